"""profilePhoto (contract Part 5): what an upload must be, what is stored and served, and
that a refused update leaves the profile and MEDIA_ROOT exactly as they were."""

import re
import struct
import zlib
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image, ImageFile

from accounts import photos, services
from tests.conftest import TAKEN, snapshot

pytestmark = pytest.mark.django_db

URL = reverse("profile-update")
PHOTO_URL = re.compile(r"http://testserver/media/profiles/[0-9a-f]{32}\.(jpg|png|webp)")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """A MEDIA_ROOT of the test's own: what is in it is what the update left."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def files_in(media):
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def picture(kind="JPEG", size=(40, 20), mode="RGB", **save):
    out = BytesIO()
    Image.new(mode, size, (200, 30, 30)).save(out, format=kind, **save)
    return out.getvalue()


def upload(content, name="me.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def send_photo(client, content, **fields):
    body = {"profilePhoto": upload(content, **fields.pop("as_", {})), **fields}
    return client.patch(URL, body, format="multipart")


def served(client, url):
    return client.get(url.removeprefix("http://testserver"))


def with_orientation(size, orientation):
    image = Image.new("RGB", size, (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SecretCam"  # Make
    out = BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png_claiming(width, height):
    """A PNG whose header claims width x height, with a few bytes of data: a bomb."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


# --- accepted: stored re-encoded under a random name, given as an absolute URL --------------


@pytest.mark.parametrize(
    ("kind", "extension", "content_type"),
    [("JPEG", "jpg", "image/jpeg"), ("PNG", "png", "image/png"), ("WEBP", "webp", "image/webp")],
)
def test_a_picture_is_stored_reencoded_and_served(
    patient_client, patient, media, api_client, kind, extension, content_type
):
    response = send_photo(patient_client, picture(kind), city="Kochi")

    assert response.status_code == 200, response.content
    url = response.json()["profilePhoto"]
    assert PHOTO_URL.fullmatch(url) and url.endswith(f".{extension}")
    patient.refresh_from_db()
    assert patient.city == "Kochi"
    assert files_in(media) == [patient.profile_photo.name]
    assert patient_client.get(reverse("profile")).json()["profilePhoto"] == url

    image = served(api_client, url)  # no token needed

    assert image.status_code == 200
    assert image["Content-Type"] == content_type
    assert image["X-Content-Type-Options"] == "nosniff"
    with Image.open(BytesIO(b"".join(image.streaming_content))) as stored:
        assert (stored.format, stored.size) == (kind, (40, 20))


def test_the_name_and_declared_type_do_not_decide_the_format(patient_client, patient):
    response = send_photo(
        patient_client, picture("PNG"), as_={"name": "x.jpg", "content_type": "image/jpeg"}
    )

    assert response.status_code == 200
    assert response.json()["profilePhoto"].endswith(".png")


def test_exif_orientation_is_applied_and_no_exif_is_kept(patient_client, patient, media):
    response = send_photo(patient_client, with_orientation((40, 20), 6))

    assert response.status_code == 200
    patient.refresh_from_db()
    with Image.open(media / patient.profile_photo.name) as stored:
        assert stored.size == (20, 40)  # turned upright
        assert not stored.getexif()
        assert "exif" not in stored.info


def test_a_new_photo_replaces_the_old_file_once_committed(
    patient_client, patient, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_photo(patient_client, picture("JPEG"))
    patient.refresh_from_db()
    old = patient.profile_photo.name

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = send_photo(patient_client, picture("PNG"))
    patient.refresh_from_db()
    # Until the commit both files are there: a rollback would keep the old one in use.
    assert sorted(files_in(media)) == sorted([old, patient.profile_photo.name])
    for callback in callbacks:
        callback()

    assert response.status_code == 200
    assert files_in(media) == [patient.profile_photo.name] != [old]


@pytest.mark.parametrize(
    ("body", "format_"),
    [({"profilePhoto": None}, "json"), ({"profilePhoto": ""}, "multipart")],
    ids=["json-null", "empty-form-value"],
)
def test_null_or_an_empty_value_removes_the_photo(
    patient_client, patient, media, django_capture_on_commit_callbacks, body, format_
):
    send_photo(patient_client, picture())

    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.patch(URL, body, format=format_)

    assert (response.status_code, response.json()["profilePhoto"]) == (200, None)
    patient.refresh_from_db()
    assert patient.profile_photo.name == ""
    assert files_in(media) == []


@pytest.mark.parametrize("shape", ["url", "path", "name"])
def test_the_current_photo_sent_back_changes_nothing(patient_client, patient, media, shape):
    url = send_photo(patient_client, picture()).json()["profilePhoto"]
    patient.refresh_from_db()
    value = {
        "url": url,
        "path": url.removeprefix("http://testserver"),
        "name": patient.profile_photo.name,
    }[shape]

    response = patient_client.patch(URL, {"profilePhoto": value, "city": "Kochi"}, format="json")

    assert (response.status_code, response.json()["profilePhoto"]) == (200, url)
    assert files_in(media) == [patient.profile_photo.name]


# --- refused: 400 naming the field, nothing written ----------------------------------------

BOMB_SIDE = 100_000
REFUSED_FILES = [
    pytest.param(b"#!/bin/sh\nrm -rf /\n", photos.NOT_A_PICTURE, id="script-named-jpg"),
    pytest.param(b"\x89PNG\r\n\x1a\n", photos.NOT_A_PICTURE, id="png-header-only"),
    pytest.param(picture("PNG")[:60], photos.NOT_A_PICTURE, id="truncated-png"),
    pytest.param(
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        photos.NOT_A_PICTURE,
        id="svg",
    ),
    pytest.param(picture("GIF", mode="P"), photos.NOT_A_PICTURE, id="gif"),
    pytest.param(picture("BMP"), photos.NOT_A_PICTURE, id="bmp"),
    pytest.param(b"", None, id="empty-file"),
    pytest.param(picture("JPEG") + b"\x00" * photos.MAX_BYTES, photos.TOO_LARGE, id="over-5-mib"),
    pytest.param(picture("PNG", size=(4097, 1)), photos.TOO_MANY_PIXELS, id="4097-wide"),
    pytest.param(picture("PNG", size=(1, 4097)), photos.TOO_MANY_PIXELS, id="4097-high"),
    pytest.param(png_claiming(BOMB_SIDE, BOMB_SIDE), photos.TOO_MANY_PIXELS, id="bomb"),
    pytest.param(png_claiming(4096, 4096)[:-12], photos.NOT_A_PICTURE, id="claims-4096-no-data"),
]


@pytest.mark.parametrize(("content", "message"), REFUSED_FILES)
def test_a_file_that_is_not_an_acceptable_picture_is_refused(
    patient_client, patient, media, content, message
):
    send_photo(patient_client, picture())
    before = snapshot(patient)
    kept = files_in(media)

    response = send_photo(patient_client, content, city="Changed", lastName="Changed")

    assert response.status_code == 400
    assert list(response.json()) == ["profilePhoto"]
    if message:
        assert response.json() == {"profilePhoto": [message]}
    assert snapshot(patient) == before
    assert files_in(media) == kept


@pytest.mark.parametrize("side", [BOMB_SIDE, 5000], ids=["pillow-guard", "side-check"])
def test_a_bomb_is_refused_before_its_pixels_are_decoded(monkeypatch, side):
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))

    with pytest.raises(photos.ValidationError):
        photos.reencoded(upload(png_claiming(side, side)))

    assert decoded == []


def test_a_4096_square_is_accepted(patient_client, patient):
    response = send_photo(patient_client, picture("PNG", size=(4096, 4096)))

    assert response.status_code == 200


def test_a_string_that_is_not_the_current_photo_is_refused(patient_client, patient, media):
    before = snapshot(patient)

    response = patient_client.patch(
        URL, {"profilePhoto": "http://evil.example/x.jpg"}, format="json"
    )

    assert (response.status_code, list(response.json())) == (400, ["profilePhoto"])
    assert snapshot(patient) == before
    assert files_in(media) == []


def test_a_photo_beside_an_invalid_field_writes_no_file(patient_client, patient, media):
    before = snapshot(patient)

    response = send_photo(patient_client, picture(), pincode="123")

    assert (response.status_code, list(response.json())) == (400, ["pincode"])
    assert snapshot(patient) == before
    assert files_in(media) == []


def test_a_photo_whose_update_the_unique_index_refuses_leaves_no_file(
    patient_client, patient, doctor, media, monkeypatch
):
    # The new file is written before the row; the loser of an address race deletes it.
    monkeypatch.setattr(services, "_refuse_taken", lambda *args: None)
    before = snapshot(patient)

    response = send_photo(patient_client, picture(), email=doctor.email.upper())

    assert (response.status_code, response.json()) == (400, TAKEN)
    assert snapshot(patient) == before
    assert files_in(media) == []


# --- served: the application's own small view ----------------------------------------------


def test_media_is_served_with_debug_off(settings, patient_client, api_client):
    url = send_photo(patient_client, picture()).json()["profilePhoto"]
    settings.DEBUG = False

    assert served(api_client, url).status_code == 200
    assert api_client.head(url.removeprefix("http://testserver")).status_code == 200
    assert api_client.post(url.removeprefix("http://testserver")).status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/media/profiles/missing.jpg",
        "/media/../config/settings.py",
        "/media/profiles/../../db.sqlite3.jpg",
        "/media/profiles/evil.svg",
        "/media/profiles/page.html",
    ],
)
def test_media_answers_404_for_anything_but_a_stored_picture(api_client, media, path):
    media.mkdir(parents=True, exist_ok=True)
    (media / "profiles").mkdir(exist_ok=True)
    (media / "profiles" / "evil.svg").write_text("<svg/>")
    (media / "profiles" / "page.html").write_text("<script></script>")

    assert api_client.get(path).status_code == 404


# --- the admin: the new fields, a thumbnail, and uploads under the same rules -------------


@pytest.fixture
def staff(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def admin_form(user, **extra):
    return {
        "email": user.email,
        "full_name": user.full_name,
        "user_type": user.user_type,
        "cancel_notice_minutes": "0",
        "min_booking_notice_minutes": "0",
        "is_active": "on",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "09:00:00",
        **extra,
    }


def test_the_admin_shows_the_new_fields_and_a_thumbnail(staff, patient_client, patient):
    url = send_photo(patient_client, picture()).json()["profilePhoto"]
    patient.refresh_from_db()

    page = staff.get(reverse("admin:accounts_userprofile_change", args=[patient.pk]))

    html = page.content.decode()
    assert f'<img src="{url.removeprefix("http://testserver")}"' in html
    for name in ("last_name", "pincode", "gender", "date_of_birth", "emergency_contact"):
        assert f'name="{name}"' in html


def test_an_admin_upload_is_reencoded_and_a_bad_one_refused(
    staff, doctor, media, django_capture_on_commit_callbacks
):
    url = reverse("admin:accounts_userprofile_change", args=[doctor.pk])
    bomb = upload(png_claiming(BOMB_SIDE, BOMB_SIDE), name="x.png")
    refused = staff.post(url, admin_form(doctor, profile_photo=bomb))
    assert list(refused.context_data["adminform"].form.errors) == ["profile_photo"]
    svg = upload(b"<svg xmlns='http://www.w3.org/2000/svg'/>", name="x.png")

    refused = staff.post(url, admin_form(doctor, profile_photo=svg, city="Changed"))

    assert refused.status_code == 200  # the form again, with the error
    assert list(refused.context_data["adminform"].form.errors) == ["profile_photo"]
    assert files_in(media) == []

    with django_capture_on_commit_callbacks(execute=True):
        staff.post(url, admin_form(doctor, profile_photo=upload(picture("PNG"), name="x.jpg")))
    doctor.refresh_from_db()
    first = doctor.profile_photo.name
    assert re.fullmatch(r"profiles/[0-9a-f]{32}\.png", first)
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(url, admin_form(doctor, profile_photo=upload(picture("JPEG"))))
    doctor.refresh_from_db()
    assert files_in(media) == [doctor.profile_photo.name] != [first]
