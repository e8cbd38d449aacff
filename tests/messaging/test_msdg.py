"""The MSDG push request format: service types, errors, Hindi content, keys and replies."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seva.messaging.msdg import (
    MAX_NUMBERS,
    MsdgCode,
    MsdgError,
    MsdgRequest,
    decode_entities,
    error_reply,
    expected_key,
    parse_request,
    sha1_hex,
    success_reply,
    verify_key,
)

USERNAME = "egov-sevadept"
PASSWORD = "Seva2025pass"
SENDER = "SEVAGV"
SECURE_KEY = "8921726e-fccf-4927-bca5-b954eda66bd1"
TEMPLATE_ID = "1107161234567890123"
ENTITY_ID = "1201159100000012345"
NAMASTE = "नमस्ते"  # न म स ् त े
NAMASTE_ENTITIES = "&#2344;&#2350;&#2360;&#2381;&#2340;&#2375;"


def sha512_hex(text: str) -> str:
    return hashlib.sha512(text.encode("utf-8")).hexdigest()


def form(**changes: str | None) -> dict[str, str]:
    """A valid singlemsg request, as the PHP sample client builds it, with ``changes``."""
    content = "Your application A-17 is approved. -SEVAGV"
    fields: dict[str, str | None] = {
        "username": USERNAME,
        "password": hashlib.sha1(PASSWORD.encode()).hexdigest(),
        "senderid": SENDER,
        "content": content,
        "smsservicetype": "singlemsg",
        "mobileno": "9811000001",
        "key": sha512_hex(USERNAME + SENDER + content + SECURE_KEY),
        "templateid": TEMPLATE_ID,
    }
    fields.update(changes)
    return {name: value for name, value in fields.items() if value is not None}


def refused(fields: dict[str, str], *, dlt: bool = True) -> MsdgError:
    with pytest.raises(MsdgError) as raised:
        parse_request(fields, dlt=dlt)
    return raised.value


# Service types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "numbers", "flags"),
    [
        ({"smsservicetype": "singlemsg"}, ("9811000001",), (False, False, False)),
        (
            {"smsservicetype": "bulkmsg", "mobileno": None, "bulkmobno": "9811000001,9811000002"},
            ("9811000001", "9811000002"),
            (False, False, True),
        ),
        (
            {"smsservicetype": "unicodemsg", "mobileno": None, "bulkmobno": " 9811000001 ,,"},
            ("9811000001",),
            (True, False, True),
        ),
        (
            {"smsservicetype": "otpmsg", "mobileno": "9811000001,9811000002"},
            ("9811000001", "9811000002"),
            (False, True, False),
        ),
        ({"smsservicetype": "unicodeotpmsg"}, ("9811000001",), (True, True, False)),
        # A client that puts the numbers in the other field is understood.
        ({"smsservicetype": "bulkmsg"}, ("9811000001",), (False, False, True)),
        (
            {"mobileno": None, "bulkmobno": "919811000001"},
            ("919811000001",),
            (False, False, False),
        ),
        ({"smsservicetype": " BulkMsg "}, ("9811000001",), (False, False, True)),
    ],
)
def test_each_service_type_reads_its_numbers(
    changes: dict[str, str | None], numbers: tuple[str, ...], flags: tuple[bool, bool, bool]
) -> None:
    request = parse_request(form(**changes), dlt=True)
    assert request.numbers == numbers
    assert (request.unicode, request.otp, request.bulk) == flags
    assert request.service_type == (changes.get("smsservicetype") or "singlemsg").strip().lower()


def test_a_parsed_request_keeps_what_the_client_sent() -> None:
    request = parse_request(form(entityid=f" {ENTITY_ID} ", key=form()["key"].upper()), dlt=True)
    assert request == MsdgRequest(
        username=USERNAME,
        password_sha1=hashlib.sha1(PASSWORD.encode()).hexdigest(),
        senderid=SENDER,
        content="Your application A-17 is approved. -SEVAGV",
        service_type="singlemsg",
        numbers=("9811000001",),
        key=form()["key"],
        templateid=TEMPLATE_ID,
        entityid=ENTITY_ID,
        unicode=False,
        otp=False,
        bulk=False,
    )


def test_field_names_are_read_without_regard_to_case() -> None:
    fields = {
        name.upper() if name in {"username", "password"} else name: value
        for name, value in form().items()
    }
    assert parse_request(fields, dlt=True).username == USERNAME


def test_the_legacy_endpoint_does_not_need_a_template_id() -> None:
    request = parse_request(form(templateid=None), dlt=False)
    assert request.templateid is None


def test_hindi_entities_are_decoded_into_the_content() -> None:
    request = parse_request(
        form(
            smsservicetype="unicodemsg",
            content=f"{NAMASTE_ENTITIES}&#32;&#2360;&#2375;&#2357;&#2366;",
        ),
        dlt=True,
    )
    assert request.content == f"{NAMASTE} सेवा"
    assert request.unicode


def test_the_request_checks_its_own_flags() -> None:
    request = parse_request(form(), dlt=True)
    fields: dict[str, Any] = {name: getattr(request, name) for name in request.__slots__}
    with pytest.raises(ValueError, match="flags"):
        MsdgRequest(**{**fields, "otp": True})
    with pytest.raises(ValueError, match="smsservicetype"):
        MsdgRequest(**{**fields, "service_type": "flashmsg"})
    with pytest.raises(ValueError, match="number"):
        MsdgRequest(**{**fields, "numbers": ()})


# Errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "reason"),
    [
        ({"username": None}, 401, "username is missing"),
        ({"username": "  "}, 401, "username is missing"),
        ({"username": "u" * 201}, 401, "username is too long"),
        ({"password": None}, 401, "password is missing"),
        ({"password": PASSWORD}, 401, "SHA-1 hex digest"),
        ({"password": "0" * 39}, 401, "SHA-1 hex digest"),
        ({"senderid": None}, 412, "senderid is missing"),
        ({"senderid": "SEVA GV"}, 412, "DLT header"),
        ({"senderid": "SEVA-GOV-DEPT"}, 412, "DLT header"),
        ({"smsservicetype": None}, 420, "smsservicetype is missing"),
        ({"smsservicetype": "flashmsg"}, 420, "singlemsg, bulkmsg, unicodemsg"),
        ({"content": None}, 419, "content is empty"),
        ({"content": " \t\r\n "}, 419, "content is empty"),
        ({"content": "&#32;&#10;"}, 419, "content is empty"),
        ({"content": "x" * 20_001}, 419, "longer than 20000"),
        ({"mobileno": None}, 406, "mobileno is missing"),
        ({"mobileno": " , ,"}, 406, "no numbers"),
        ({"mobileno": "9811000001 9811000002 9811000003 9811000004"}, 406, "commas"),
        (
            {"smsservicetype": "bulkmsg", "mobileno": None, "bulkmobno": None},
            406,
            "bulkmobno is missing",
        ),
        (
            {"smsservicetype": "otpmsg", "mobileno": "9811000001,9811000002,9811000003"},
            417,
            "at most 2 numbers",
        ),
        ({"smsservicetype": "unicodeotpmsg", "mobileno": "1,2,3"}, 417, "at most 2 numbers"),
        ({"key": None}, 416, "key is missing"),
        ({"key": "abc"}, 416, "128 hex digits"),
        ({"key": "z" * 128}, 416, "SHA-512"),
        ({"templateid": None}, 423, "required on sendsmsrequestDLT"),
        ({"templateid": "  "}, 423, "required on sendsmsrequestDLT"),
        ({"templateid": "TPL-1107"}, 423, "template ID"),
        ({"entityid": "12345"}, 420, "entityid"),
    ],
)
def test_unusable_request_gets_the_msdg_code(
    changes: dict[str, str | None], code: int, reason: str
) -> None:
    error = refused(form(**changes))
    assert error.code == code
    assert reason in error.message
    assert error.reply().startswith(f"{code},")


def test_the_legacy_endpoint_still_checks_a_template_id_it_is_given() -> None:
    assert refused(form(templateid="TPL"), dlt=False).code == MsdgCode.TEMPLATE_MISMATCH


def test_credentials_are_reported_before_anything_else() -> None:
    assert refused({}).code == MsdgCode.CREDENTIALS_ERROR
    assert refused(form(password=None, key=None, templateid=None)).code == 401


def test_a_bulk_list_up_to_the_limit_is_accepted_and_one_more_is_refused() -> None:
    numbers = ",".join(str(9_000_000_000 + n) for n in range(MAX_NUMBERS))
    bulk = {"smsservicetype": "bulkmsg", "mobileno": None}
    request = parse_request(form(**bulk, bulkmobno=numbers), dlt=True)
    assert len(request.numbers) == MAX_NUMBERS
    error = refused(form(**bulk, bulkmobno=numbers + ",9811000001"))
    assert error.code == MsdgCode.INVALID_NUMBERS
    assert "split the send" in error.message


def test_a_huge_field_of_commas_is_refused() -> None:
    error = refused(form(smsservicetype="bulkmsg", bulkmobno="," * 5_000_000))
    assert error.code == MsdgCode.INVALID_NUMBERS


# Entities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        (NAMASTE_ENTITIES, NAMASTE),
        ("&#x928;&#X92E;&#x0938;", "नमस"),
        ("Ref &#2344;-17 &amp; more", "Ref न-17 &amp; more"),
        ("&#55357;&#56832; smile", "😀 smile"),  # a UTF-16 surrogate pair, as Java writes it
        ("&#65;&#66", "A&#66"),  # no semicolon: not a reference
        ("plain text", "plain text"),
        ("", ""),
    ],
)
def test_numeric_references_are_decoded(text: str, decoded: str) -> None:
    assert decode_entities(text) == decoded


@pytest.mark.parametrize(
    "bad",
    [
        "&#99999999;",
        "&#1114112;",
        "&#0;",
        "&#xD800;",
        "&#56832;",
        "&#55357;x",
        "&#;",
        "&#x;",
        "&#12345678901234567890;",
        "&#xFFFFFFFFF;",
        "&#-5;",
    ],
)
def test_references_that_name_no_character_are_kept_as_written(bad: str) -> None:
    assert decode_entities(f"a{bad}b") == f"a{bad}b"


# Keys and passwords ---------------------------------------------------------------------


def test_key_vector_matches_an_independent_sha512() -> None:
    assert expected_key(" user ", "SEVAGV\n", " Hello ", " secret ") == (
        hashlib.sha512(b"userSEVAGVHellosecret").hexdigest()
    )


def test_key_over_the_content_as_sent_verifies() -> None:
    fields = form()
    request = parse_request(fields, dlt=True)
    assert verify_key(request, SECURE_KEY, fields["content"])
    assert verify_key(request, f" {SECURE_KEY}\n", fields["content"])


def test_unicode_key_covers_the_entities_as_sent() -> None:
    # The Java sample's sendUnicodeSMS hashes and posts the same &#N; string.
    key = sha512_hex(USERNAME + SENDER + NAMASTE_ENTITIES + SECURE_KEY)
    fields = form(smsservicetype="unicodemsg", content=NAMASTE_ENTITIES, key=key)
    request = parse_request(fields, dlt=True)
    assert request.content == NAMASTE
    assert verify_key(request, SECURE_KEY, fields["content"])


def test_unicode_otp_key_over_entities_with_plain_text_content_verifies() -> None:
    # The Java sample's sendUnicodeOtpSMS hashes the &#N; form but posts the plain text.
    key = sha512_hex(USERNAME + SENDER + NAMASTE_ENTITIES + SECURE_KEY)
    fields = form(smsservicetype="unicodeotpmsg", content=NAMASTE, key=key)
    request = parse_request(fields, dlt=True)
    assert verify_key(request, SECURE_KEY, fields["content"])


def test_key_over_decoded_text_does_not_verify_entity_content() -> None:
    key = sha512_hex(USERNAME + SENDER + "नमस्कार" + SECURE_KEY)
    fields = form(smsservicetype="unicodemsg", content=NAMASTE_ENTITIES, key=key)
    assert not verify_key(parse_request(fields, dlt=True), SECURE_KEY, fields["content"])


@pytest.mark.parametrize(
    ("secure_key", "raw_content"),
    [
        ("another-secure-key", None),
        ("", None),
        ("   ", None),
        (SECURE_KEY, "Your application A-18 is approved. -SEVAGV"),
    ],
)
def test_wrong_key_or_tampered_content_does_not_verify(
    secure_key: str, raw_content: str | None
) -> None:
    fields = form()
    request = parse_request(fields, dlt=True)
    assert not verify_key(request, secure_key, raw_content or fields["content"])


def test_sha1_hex_matches_what_sample_clients_send() -> None:
    assert sha1_hex("pds@123") == hashlib.sha1(b"pds@123").hexdigest()
    assert sha1_hex("passé") == hashlib.sha1("passé".encode("iso-8859-1")).hexdigest()
    assert sha1_hex("पासवर्ड") == hashlib.sha1("पासवर्ड".encode()).hexdigest()


# Replies --------------------------------------------------------------------------------


def test_success_reply_is_spelled_like_the_samples() -> None:
    assert success_reply("150620161466003974245") == "402,MsgID = 150620161466003974245msdgsms"


@pytest.mark.parametrize("message_id", ["", "12 34", "12,34", "12\n34", "x" * 65])
def test_success_reply_refuses_an_id_clients_cannot_parse(message_id: str) -> None:
    with pytest.raises(ValueError, match="message ID"):
        success_reply(message_id)


@pytest.mark.parametrize(
    ("code", "reply"),
    [
        (401, "401,Credentials Error, may be invalid username or password"),
        (406, "406,Invalid or Duplicate numbers"),
        (412, "412,Sender ID not approved"),
        (416, "416,Hash doesn't match"),
        (417, "417,OTP message can be sent to at most two numbers"),
        (418, "418,Daily Limit Exceeded"),
        (419, "419,Invalid or empty message content"),
        (421, "421,Too many failed logins, try again later"),
        (423, "423,Template ID missing or not matching"),
    ],
)
def test_error_reply_carries_the_code_and_message(code: int, reply: str) -> None:
    assert error_reply(code) == reply


@pytest.mark.parametrize("code", list(MsdgCode))
def test_every_error_reply_parses_the_ways_clients_read_it(code: MsdgCode) -> None:
    if code == MsdgCode.SUBMITTED:
        with pytest.raises(ValueError, match="not an MSDG error code"):
            error_reply(code)
        return
    reply = error_reply(code)
    assert reply.split(",", 1)[0] == str(int(code))  # .NET and Python samples
    assert reply[:3] == str(int(code))  # PHP sample
    assert "\n" not in reply
    # Clients that search for codes in order must not find another code in the message.
    others = [str(int(c)) for c in MsdgCode if c != code]
    assert not any(other in reply for other in others)


def test_error_reply_refuses_an_unknown_code() -> None:
    with pytest.raises(ValueError, match="not an MSDG error code"):
        error_reply(499)


# Malformed input never escapes as anything but MsdgError ---------------------------------

_NAMES = [
    "username",
    "password",
    "senderid",
    "content",
    "smsservicetype",
    "mobileno",
    "bulkmobno",
    "key",
    "templateid",
    "entityid",
    "UserName",
]
_VALUES = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(exclude_categories=()), max_size=20),  # lone surrogates too
    st.text(alphabet="0123456789abcdef&#x;, ", max_size=140),
    st.sampled_from(["singlemsg", "bulkmsg", "unicodemsg", "otpmsg", "unicodeotpmsg"]),
    st.just("a" * 40),
    st.just("0" * 128),
    st.just(TEMPLATE_ID),
)


@settings(max_examples=300)
@given(
    base=st.booleans(),
    fields=st.dictionaries(st.one_of(st.sampled_from(_NAMES), st.text(max_size=12)), _VALUES),
    dlt=st.booleans(),
)
def test_arbitrary_forms_give_a_request_or_an_msdg_error(
    base: bool, fields: dict[str, str], dlt: bool
) -> None:
    submitted = {**form(), **fields} if base else fields
    try:
        request = parse_request(submitted, dlt=dlt)
    except MsdgError as error:
        assert error.code in set(MsdgCode)
        assert error.reply().startswith(f"{error.code},")
    else:
        assert request.numbers
        verify_key(request, SECURE_KEY, submitted.get("content", ""))  # must not raise
