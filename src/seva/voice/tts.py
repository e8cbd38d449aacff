"""Spoken prompts: espeak-ng (Debian ``espeak-ng``) to 8 kHz telephone audio, cached on disk.

espeak-ng speaks every language Seva ships (and about a hundred more) from text alone, runs
on the machine, and costs nothing per prompt: a fit for a gateway that must speak every
department's prompts in thirteen languages. Each language is spoken by its voice in the
languages table (``seva.i18n.languages``: ``en-gb`` for English, ``ta`` for Tamil, …); a code
the table does not know is taken as an espeak-ng voice name. It writes 22.05 kHz WAV; phones
carry 8 kHz G.711, so the samples are low-pass filtered (a short windowed-sinc FIR, 3.4 kHz,
the telephone band) and resampled here (no library in the dependency set does it without
numpy, and a prompt is synthesised once: every later call reads the cached 8 kHz WAV).

The cache key is the text, the espeak-ng voice and the speed, so a changed prompt is a new
file and an unchanged one is never synthesised twice.

A prompt is a list of sentences with a language for all of them or one for each (``Langs``):
the phone's language menu says "for Tamil press 6" in Tamil and "for Urdu press 8" in Urdu,
each in its own voice. Consecutive sentences in one language are one utterance (``runs``), so
a prompt in one language is synthesised whole and a mixed one run by run.

A department can record any sentence of its own services (a question, a title, an answer's
fixed text) in a human voice: ``recorded`` keeps it under the department's code, and a prompt
made of sentences (``prompt_pcm``) then plays the recording for that sentence and synthesises
the rest; with no recording involved each language run is synthesised as one utterance.

Without espeak-ng (a bare machine) prompts are silence of the length the text would take to
say, so calls still run and pace correctly; the log says so once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from array import array
from collections.abc import Sequence
from pathlib import Path

import structlog

from seva.i18n.languages import BY_CODE

log = structlog.get_logger(__name__)

RATE = 8000
SPEED = 150
"""Words per minute: a little slower than espeak-ng's 175 for a phone line."""
_SILENT_SECONDS_PER_CHAR = 0.06
MAX_RECORDING_SECONDS = 60
SENTENCE_GAP = 0.25
"""Silence between a recorded sentence and the next one."""
_MAX_TEXT = 2000


Langs = str | Sequence[str]
"""A prompt's language: one for all its sentences, or one per sentence."""


def sentence_langs(parts: Sequence[str], lang: Langs) -> tuple[str, ...]:
    """Each sentence's language."""
    if isinstance(lang, str):
        return (lang,) * len(parts)
    if len(lang) != len(parts):
        raise ValueError("a prompt needs one language per sentence")
    return tuple(lang)


def runs(parts: Sequence[str], lang: Langs) -> list[tuple[str, tuple[str, ...]]]:
    """The sentences grouped into runs of one language, in order: each run is one utterance
    in that language's voice (and one ``<Say>`` for a voice provider)."""
    grouped: list[tuple[str, list[str]]] = []
    for part, code in zip(parts, sentence_langs(parts, lang), strict=True):
        if grouped and grouped[-1][0] == code:
            grouped[-1][1].append(part)
        else:
            grouped.append((code, [part]))
    return [(code, tuple(sentences)) for code, sentences in grouped]


def sentence_key(text: str) -> str:
    """How a sentence is matched to its recording: spacing and final punctuation do not count."""
    return " ".join(text.split()).rstrip(".?!।: ").casefold()


def _design_filter(taps: int, cutoff: float) -> list[float]:
    """A Hann-windowed sinc low-pass, ``cutoff`` as a fraction of the input sample rate."""
    middle = (taps - 1) / 2
    coefficients = []
    for n in range(taps):
        x = n - middle
        sinc = 2 * cutoff if x == 0 else math.sin(2 * math.pi * cutoff * x) / (math.pi * x)
        window = 0.5 - 0.5 * math.cos(2 * math.pi * n / (taps - 1))
        coefficients.append(sinc * window)
    total = sum(coefficients)
    return [c / total for c in coefficients]


def resample(samples: array[int], rate: int, target: int = RATE) -> array[int]:
    """16-bit mono ``samples`` at ``rate`` as 16-bit samples at ``target`` (downsampling)."""
    if rate == target:
        return array("h", samples)
    taps = _design_filter(31, min(3400.0, target / 2 * 0.9) / rate)
    half = len(taps) // 2
    count = len(samples)
    step = rate / target
    out = array("h")
    n_out = int(count / step)
    for i in range(n_out):
        centre = int(i * step)
        acc = 0.0
        start = centre - half
        for k, weight in enumerate(taps):
            j = start + k
            if 0 <= j < count:
                acc += weight * samples[j]
        out.append(max(-32768, min(32767, int(acc))))
    return out


def wav_bytes(samples: array[int], rate: int = RATE) -> bytes:
    """16-bit mono samples as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(samples.tobytes())
    return out.getvalue()


def read_wav(data: bytes) -> tuple[array[int], int]:
    """16-bit mono samples and their rate from a WAV file."""
    with wave.open(io.BytesIO(data), "rb") as source:
        if source.getsampwidth() != 2 or source.getnchannels() != 1:
            raise ValueError("a prompt must be 16-bit mono WAV")
        rate = source.getframerate()
        frames = source.readframes(source.getnframes())
    samples = array("h")
    samples.frombytes(frames)
    return samples, rate


def read_recording(data: bytes) -> tuple[array[int], int]:
    """A human recording (a department's prompt, a caller's message from a browser): 16-bit
    mono samples at 8 to 48 kHz and their rate. Anything else, a damaged header included,
    raises ``ValueError`` with the reason."""
    try:
        samples, rate = read_wav(data)
    except (wave.Error, EOFError, RuntimeError) as exc:  # what a damaged header raises
        raise ValueError(f"not a WAV file: {exc}") from None
    if not 8000 <= rate <= 48000:
        raise ValueError("a recording's sample rate must be 8 to 48 kHz")
    return samples, rate


class Speech:
    """Prompts as 8 kHz 16-bit mono PCM, synthesised once and kept under ``cache_dir``.

    The cache holds at most ``max_bytes`` of synthesised prompts: past that, the ones least
    recently used go (a hit renews a prompt's time), down to three quarters of the budget, so
    a service rewritten many times or a menu of changing text cannot fill the disk.
    Departments' recordings are not part of it and are never removed."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        binary: str | None = None,
        speed: int = SPEED,
        timeout: float = 20.0,
        max_bytes: int = 512 * 1024 * 1024,
    ) -> None:
        self.cache_dir = cache_dir
        self.binary = binary if binary is not None else shutil.which("espeak-ng")
        self.speed = speed
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._warned = False
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._cached_bytes: int | None = None
        """Bytes of synthesised prompts on disk; counted on the first write."""
        self._size_lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.binary is not None

    def voice(self, lang: str) -> str:
        """espeak-ng's voice for ``lang``: the languages table's, else the code as a voice."""
        language = BY_CODE.get(lang)
        return language.voice if language is not None else lang

    def key(self, text: str, lang: str) -> str:
        material = f"{self.voice(lang)}\0{self.speed}\0{text}".encode()
        return hashlib.sha256(material).hexdigest()

    def path(self, text: str, lang: str) -> Path:
        key = self.key(text, lang)
        return self.cache_dir / key[:2] / f"{key}.wav"

    # -- recordings ------------------------------------------------------------------------

    def recording_path(self, text: str, lang: str, owner: str) -> Path:
        material = f"{lang}\0{sentence_key(text)}".encode()
        return self.cache_dir / "recorded" / owner / f"{hashlib.sha256(material).hexdigest()}.wav"

    def recorded(self, text: str, lang: str, wav: bytes, *, owner: str) -> Path:
        """Keep ``owner``'s recording of the sentence ``text`` (any WAV: 16-bit mono, any rate
        up to 48 kHz, at most ``MAX_RECORDING_SECONDS``), as 8 kHz audio."""
        samples, rate = read_recording(wav)
        if len(samples) / rate > MAX_RECORDING_SECONDS:
            raise ValueError(f"a recording is at most {MAX_RECORDING_SECONDS} seconds")
        return self._keep(
            self.recording_path(text, lang, owner), wav_bytes(resample(samples, rate))
        )

    def forget_recording(self, text: str, lang: str, *, owner: str) -> bool:
        path = self.recording_path(text, lang, owner)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def has_recording(self, parts: Sequence[str], lang: Langs, owner: str | None) -> bool:
        """Whether the owner recorded any of these sentences, each in its language (a look at
        the files, no read)."""
        return owner is not None and any(
            self.recording_path(part, code, owner).exists()
            for part, code in zip(parts, sentence_langs(parts, lang), strict=True)
        )

    def recording(self, text: str, lang: str, owner: str | None) -> bytes | None:
        """The owner's 8 kHz samples for this sentence, if they recorded it."""
        if owner is None:
            return None
        try:
            data = self.recording_path(text, lang, owner).read_bytes()
        except FileNotFoundError:
            return None
        samples, _ = read_wav(data)
        return samples.tobytes()

    def recordings_version(
        self, parts: Sequence[str], lang: Langs, owner: str | None
    ) -> tuple[float, ...]:
        """When each of these sentences was last recorded (0 for none): a re-recording is a
        new prompt to every cache."""
        if owner is None:
            return ()
        stamps = []
        for part, code in zip(parts, sentence_langs(parts, lang), strict=True):
            try:
                stamps.append(self.recording_path(part, code, owner).stat().st_mtime)
            except FileNotFoundError:
                stamps.append(0.0)
        return tuple(stamps)

    def prompt_pcm(
        self,
        parts: Sequence[str],
        lang: Langs,
        owner: str | None = None,
        *,
        cache: bool = True,
    ) -> bytes:
        """A prompt of sentences: recordings where the owner has them, speech elsewhere, each
        sentence in its language's voice."""
        langs = sentence_langs(parts, lang)
        recorded = [self.recording(part, code, owner) for part, code in zip(parts, langs,
                    strict=True)]  # fmt: skip
        gap = bytes(2 * int(RATE * SENTENCE_GAP))
        if not any(r is not None for r in recorded):
            return gap.join(
                self.pcm(" ".join(sentences), code, cache=cache)
                for code, sentences in runs(parts, langs)
            )
        pieces = [r if r is not None else self.pcm(part, code, cache=cache) for part, code, r in
                  zip(parts, langs, recorded, strict=True)]  # fmt: skip
        return gap.join(pieces)

    def prompt_wav(
        self, parts: Sequence[str], lang: Langs, owner: str | None = None
    ) -> tuple[str, bytes]:
        """The prompt as a WAV file and the key it is kept under (for ``<Play>``, Exotel's
        ``audio_url`` and browsers)."""
        langs = sentence_langs(parts, lang)
        single = self._one_voice(parts, langs, owner)
        if single is not None:
            text, code = single
            return self.key(text, code), self.wav(text, code)
        key = self._mixed_key(parts, langs, owner)
        made = self.cached_wav(key)  # the key changes with any re-recording
        if made is not None:
            return key, made
        samples = array("h")
        samples.frombytes(self.prompt_pcm(parts, lang, owner))
        data = wav_bytes(samples)
        self._keep_cached(self.cache_dir / key[:2] / f"{key}.wav", data)
        return key, data

    def prompt_key(self, parts: Sequence[str], lang: Langs, owner: str | None = None) -> str:
        """The key ``prompt_wav`` keeps the prompt under, without reading or making it."""
        langs = sentence_langs(parts, lang)
        single = self._one_voice(parts, langs, owner)
        return self.key(*single) if single is not None else self._mixed_key(parts, langs, owner)

    def has_wav(self, key: str) -> bool:
        """Whether the prompt kept under ``key`` has been made."""
        return (self.cache_dir / key[:2] / f"{key}.wav").exists()

    def _one_voice(
        self, parts: Sequence[str], langs: Sequence[str], owner: str | None
    ) -> tuple[str, str] | None:
        """The text and language of a prompt spoken in one language and nothing recorded."""
        grouped = runs(parts, langs)
        if len(grouped) == 1 and not self.has_recording(parts, langs, owner):
            code, sentences = grouped[0]
            return " ".join(sentences), code
        return None

    def _mixed_key(self, parts: Sequence[str], langs: Sequence[str], owner: str | None) -> str:
        version = ",".join(str(v) for v in self.recordings_version(parts, langs, owner))
        voices = ",".join(self.voice(code) for code in langs)
        material = "\0".join([voices, str(self.speed), owner or "", version, *parts]).encode()
        return hashlib.sha256(b"mixed\0" + material).hexdigest()

    def cached_wav(self, key: str) -> bytes | None:
        """A prompt's WAV by its key, if it has been made."""
        path = self.cache_dir / key[:2] / f"{key}.wav"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        self._used(path)
        return data

    def wav(self, text: str, lang: str, *, cache: bool = True) -> bytes:
        """The prompt as an 8 kHz WAV file (for browsers, ``<Play>`` URLs and the cache).
        ``cache=False``: synthesise without keeping it (text that holds a citizen's details)."""
        path = self.path(text, lang)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            pass
        else:
            self._used(path)
            return data
        if not cache:
            return self._make(None, text, lang)
        # Twenty callers reaching the same new prompt at once wait for one synthesis.
        with self._locks_guard:
            lock = self._locks.setdefault(path.name, threading.Lock())
        try:
            with lock:
                try:
                    return path.read_bytes()
                except FileNotFoundError:
                    return self._make(path, text, lang)
        finally:
            with self._locks_guard:
                self._locks.pop(path.name, None)

    def _make(self, path: Path | None, text: str, lang: str) -> bytes:
        text = " ".join(text.split())[:_MAX_TEXT]
        if not self.available:
            if not self._warned:
                log.warning("voice.no_espeak", hint="apt-get install espeak-ng")
                self._warned = True
            silent = array("h", bytes(2 * int(RATE * _SILENT_SECONDS_PER_CHAR * len(text))))
            return wav_bytes(silent)
        samples, rate = read_wav(self._synthesise(text, lang))
        data = wav_bytes(resample(samples, rate))
        if path is not None:
            self._keep_cached(path, data)
        return data

    def pcm(self, text: str, lang: str, *, cache: bool = True) -> bytes:
        """The prompt as raw 8 kHz 16-bit little-endian samples, ready for G.711."""
        samples, _ = read_wav(self.wav(text, lang, cache=cache))
        return samples.tobytes()

    def seconds(self, text: str, lang: str) -> float:
        return len(self.pcm(text, lang)) / 2 / RATE

    def _synthesise(self, text: str, lang: str) -> bytes:
        assert self.binary is not None
        result = subprocess.run(  # noqa: S603 - a fixed argv; the text goes in on stdin
            [self.binary, "-v", self.voice(lang), "-s", str(self.speed), "-b", "1", "--stdout"],
            input=text.encode(),
            capture_output=True,
            timeout=self.timeout,
            check=False,
        )
        if result.returncode != 0 or not result.stdout.startswith(b"RIFF"):
            problem = result.stderr.decode(errors="replace").strip()[:200]
            raise RuntimeError(f"espeak-ng could not speak {lang!r}: {problem}")
        return result.stdout

    def _used(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            os.utime(path)

    def _cache_files(self) -> list[Path]:
        return [p for p in self.cache_dir.glob("??/*.wav") if p.is_file()]

    def _keep_cached(self, path: Path, data: bytes) -> None:
        self._keep(path, data)
        with self._size_lock:
            if self._cached_bytes is None:
                self._cached_bytes = sum(p.stat().st_size for p in self._cache_files())
            else:
                self._cached_bytes += len(data)
            if self._cached_bytes <= self.max_bytes:
                return
            files = []
            for candidate in self._cache_files():
                with contextlib.suppress(FileNotFoundError):
                    stat = candidate.stat()
                    files.append((stat.st_mtime, stat.st_size, candidate))
            files.sort()
            total = sum(size for _, size, _ in files)
            for _, size, old in files:
                if total <= self.max_bytes * 3 // 4:
                    break
                if old == path:
                    continue
                old.unlink(missing_ok=True)
                total -= size
            self._cached_bytes = total

    def _keep(self, path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
        return path
