from django.conf import settings
from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """A client's `Idempotency-Key` and, once its first request has answered, that reply.

    While the first request runs, `status_code` is null and `locked_at` says since
    when; the reply is written in the same transaction as the change it describes.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    # sha256 of the method, path and canonical JSON body of the first request.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    locked_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.BinaryField(null=True, blank=True)

    class Meta:
        constraints = [
            # The claim is this insert: of two requests with one key, the database lets one in.
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_one_key_per_caller"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self):
        return f"{self.key} of user {self.user_id}"
