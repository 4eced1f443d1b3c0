from rest_framework.permissions import BasePermission

from accounts.models import UserType


class IsDoctor(BasePermission):
    """Allows access only to authenticated users with the doctor role."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.user_type == UserType.DOCTOR)


class IsPatient(BasePermission):
    """Allows access only to authenticated patients (role `user`)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.user_type == UserType.USER)
