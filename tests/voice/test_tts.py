"""Spoken prompts: espeak-ng to 8 kHz telephone audio, cached; silence of the right length
when espeak-ng is missing."""

from __future__ import annotations

import itertools
import math
import os
import shutil
import threading
import wave
from array import array
from io import BytesIO
from pathlib import Path

import pytest

from seva.i18n.languages import BY_CODE
from seva.voice.tts import RATE, SENTENCE_GAP, Speech, resample, runs, wav_bytes
from tests.conftest import need


def test_english_and_hindi_prompts_are_8khz_speech_and_cached(tmp_path: Path) -> None:
    need(shutil.which("espeak-ng"), "espeak-ng (apt-get install espeak-ng)")
    speech = Speech(tmp_path)
    for text, lang in (("Welcome to Seva. For Transport, press 1.", "en"),
                       ("सेवा में आपका स्वागत है। परिवहन के लिए 1 दबाएँ।", "hi")):  # fmt: skip
        data = speech.wav(text, lang)
        with wave.open(BytesIO(data)) as audio:
            assert audio.getframerate() == RATE and audio.getnchannels() == 1
            seconds = audio.getnframes() / RATE
        assert 1.5 < seconds < 8
        samples = array("h")
        samples.frombytes(speech.pcm(text, lang))
        loud = sum(1 for s in samples if abs(s) > 2000)
        assert loud > len(samples) // 20  # speech, not silence
        assert speech.path(text, lang).exists()
        assert speech.wav(text, lang) == data  # from the cache
    assert speech.key("Namaste", "en") != speech.key("Namaste", "hi")


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "For English, press 1."),  # Latin
        ("hi", "हिन्दी के लिए 2 दबाएँ।"),  # Devanagari
        ("bn", "বাংলার জন্য 3 টিপুন।"),  # Bengali
        ("ta", "தமிழுக்கு 6 ஐ அழுத்தவும்."),  # Tamil
        ("ur", "اردو کے لیے 8 دبائیں۔"),  # Arabic script
    ],
)
def test_every_script_is_spoken_by_its_languages_voice(
    tmp_path: Path, lang: str, text: str
) -> None:
    need(shutil.which("espeak-ng"), "espeak-ng (apt-get install espeak-ng)")
    speech = Speech(tmp_path)
    assert speech.voice(lang) == BY_CODE[lang].voice  # en-gb for English, ta for Tamil
    samples = array("h")
    samples.frombytes(speech.pcm(text, lang))  # espeak-ng refusing the voice would raise
    assert 0.8 < len(samples) / RATE < 8
    loud = sum(1 for s in samples if abs(s) > 2000)
    assert loud > len(samples) // 20  # speech, not silence


def test_a_prompt_in_several_languages_speaks_each_run_in_its_own_voice(
    tmp_path: Path,
) -> None:
    speech = Speech(tmp_path, binary="/bin/true")
    made: list[tuple[str, str]] = []

    def synthesise(text: str, lang: str) -> bytes:
        made.append((speech.voice(lang), text))
        return wav_bytes(array("h", [1000] * (RATE // 10 * len(made))))  # each its own length

    speech._synthesise = synthesise  # type: ignore[method-assign]
    parts = ("For English, press 1.", "Or 9.", "हिन्दी के लिए 2 दबाएँ।", "اردو کے لیے 3 دبائیں۔")
    langs = ("en", "en", "hi", "ur")
    assert runs(parts, langs) == [("en", parts[:2]), ("hi", parts[2:3]), ("ur", parts[3:])]
    pcm = speech.prompt_pcm(parts, langs)
    # One utterance a run of one language, in that language's voice from the table.
    assert made == [("en-gb", "For English, press 1. Or 9."), ("hi", parts[2]), ("ur", parts[3])]
    gap = bytes(2 * int(RATE * SENTENCE_GAP))
    assert pcm == gap.join(speech.pcm(text, lang) for lang, text in
                           [("en", "For English, press 1. Or 9."), ("hi", parts[2]),
                            ("ur", parts[3])])  # fmt: skip
    key, wav = speech.prompt_wav(parts, langs)
    assert speech.cached_wav(key) == wav and wav == wav_bytes(array("h", pcm))
    # One language for every sentence is the same prompt as that language named once.
    assert speech.prompt_pcm(parts[:2], ("en", "en")) == speech.prompt_pcm(parts[:2], "en")
    assert speech.prompt_wav(parts[:2], ("en", "en")) == speech.prompt_wav(parts[:2], "en")
    with pytest.raises(ValueError):
        speech.prompt_pcm(parts, ("en", "hi"))


def test_concurrent_callers_share_one_synthesis(tmp_path: Path) -> None:
    need(shutil.which("espeak-ng"), "espeak-ng (apt-get install espeak-ng)")
    runs: list[str] = []
    speech = Speech(tmp_path)
    original = speech._synthesise

    def counted(text: str, lang: str) -> bytes:
        runs.append(text)
        return original(text, lang)

    speech._synthesise = counted  # type: ignore[method-assign]
    threads = [threading.Thread(target=speech.pcm, args=("Please wait.", "en")) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runs == ["Please wait."]


def test_without_espeak_a_prompt_is_silence_of_its_length(tmp_path: Path) -> None:
    speech = Speech(tmp_path, binary=None)
    speech.binary = None
    pcm = speech.pcm("Twenty characters!!", "en")
    assert len(pcm) == 2 * int(RATE * 0.06 * 19)
    assert set(pcm) == {0}


def test_resampling_keeps_a_tone_in_the_telephone_band() -> None:
    rate = 22050
    tone = array("h", (int(8000 * math.sin(2 * math.pi * 1000 * n / rate)) for n in range(rate)))
    out = resample(tone, rate)
    assert len(out) == RATE
    # A 1 kHz tone stays a 1 kHz tone: count zero crossings over one second.
    crossings = sum(1 for a, b in itertools.pairwise(out) if (a < 0) != (b < 0))
    assert 1990 <= crossings <= 2010
    assert max(out) > 6000  # not attenuated in the pass band


def test_a_recorded_sentence_replaces_its_synthesis_for_its_department_only(
    tmp_path: Path,
) -> None:
    speech = Speech(tmp_path, binary=None)
    speech.binary = None
    tone = array("h", (int(6000 * math.sin(2 * math.pi * 440 * n / 16000)) for n in range(16000)))
    speech.recorded(
        "Enter your ration card number", "en", wav_bytes(tone, rate=16000), owner="FOOD"
    )
    parts = ("Enter your ration card number.", "Then press hash.")
    mixed = speech.prompt_pcm(parts, "en", "FOOD")
    hint = speech.pcm("Then press hash.", "en")
    assert len(mixed) == 2 * 8000 + 2 * int(8000 * 0.25) + len(hint)  # 1 s recorded, gap, hint
    assert any(mixed[: 2 * 8000])
    # Another department, or none, hears the synthesis of the whole prompt.
    assert speech.prompt_pcm(parts, "en", "MCD") == speech.pcm(" ".join(parts), "en")
    assert speech.prompt_pcm(parts, "en") == speech.pcm(" ".join(parts), "en")
    key, wav = speech.prompt_wav(parts, "en", "FOOD")
    assert speech.cached_wav(key) == wav
    assert speech.forget_recording("enter your ration card number.", "en", owner="FOOD")
    assert speech.prompt_pcm(parts, "en", "FOOD") == speech.pcm(" ".join(parts), "en")


def test_the_prompt_cache_keeps_to_its_budget_and_drops_the_least_recently_used(
    tmp_path: Path,
) -> None:
    one_second = wav_bytes(array("h", bytes(2 * RATE)))
    speech = Speech(tmp_path, binary="/bin/true", max_bytes=len(one_second) * 3)
    speech._synthesise = lambda text, lang: one_second  # type: ignore[method-assign]
    recorded = speech.recorded("Welcome", "en", one_second, owner="MCD")
    for name in "abc":
        speech.wav(name, "en")
    for stamp, name in enumerate("abc", start=1):  # a is the oldest, then b, then c
        os.utime(speech.path(name, "en"), (stamp * 1000, stamp * 1000))
    speech.wav("a", "en")  # heard again: now the most recent
    speech.wav("d", "en")  # over budget: b and c go, down to three quarters of it
    kept = {name for name in "abcd" if speech.path(name, "en").exists()}
    assert kept == {"a", "d"}
    assert recorded.exists()  # a department's recording is not part of the cache
    # A fresh instance on the same directory counts what is already there.
    again = Speech(tmp_path, binary="/bin/true", max_bytes=len(one_second) * 2)
    again._synthesise = lambda text, lang: one_second  # type: ignore[method-assign]
    again.wav("e", "en")
    assert [p.stem for p in tmp_path.glob("??/*.wav")] == [again.key("e", "en")]
