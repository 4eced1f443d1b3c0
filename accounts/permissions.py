from rest_framework.permissions import BasePermission


class IsDoctor(BasePermission):
    """Allows access only to authenticated users with the doctor role."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_doctor)


class IsPatient(BasePermission):
    """Allows access only to authenticated patients (role `user`)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_patient)


class IsDesk(BasePermission):
    """Allows access only to authenticated front-desk users (role `desk`)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_desk)
