"""The patient's and the doctor's steps, as the API takes them: each sends one request
through `reverse()` and returns the response.

A slot, booking or hold may be given as a row or as its id (an unknown id such as
424242 included). Extra keyword arguments go to the client, e.g. a header:
`book(client, slot, HTTP_IDEMPOTENCY_KEY="k-1")`.
"""

from django.urls import reverse


def _id(row):
    return getattr(row, "pk", row)


def book(client, slot, **extra):
    return client.post(reverse("slot-book", args=[_id(slot)]), **extra)


def hold(client, slot, **extra):
    return client.post(reverse("slot-hold", args=[_id(slot)]), **extra)


def cancel(client, slot, **extra):
    return client.post(reverse("slot-cancel", args=[_id(slot)]), **extra)


def reschedule(client, booking, slot, **extra):
    url = reverse("booking-reschedule", args=[_id(booking)])
    return client.post(url, {"slot_id": _id(slot)}, format="json", **extra)


def release(client, hold, **extra):
    return client.delete(reverse("hold-release", args=[_id(hold)]), **extra)


def toggle(client, slot, **extra):
    return client.patch(reverse("slot-toggle", args=[_id(slot)]), **extra)


def delete(client, slot, **extra):
    return client.delete(reverse("slot-delete", args=[_id(slot)]), **extra)


def available_ids(client):
    """The ids of the public list of bookable slots, as `client` reads it."""
    return [row["id"] for row in client.get(reverse("available-slots")).json()]
