from functools import partial

from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.html import format_html

from accounts import photos
from accounts.models import DOCTOR_FIELDS, PERSONAL_FIELDS, UserProfile, normalize_email
from listcache.services import bump_after_commit


class UserCreationForm(auth_forms.UserCreationForm):
    """Email instead of username; the password goes through set_password (hashed, validated)."""

    class Meta:
        model = UserProfile
        fields = ("email", "full_name", "user_type", "phone", *DOCTOR_FIELDS)

    def clean_email(self):
        # Blank is null: a patient the front desk registered without an address.
        return normalize_email(self.cleaned_data["email"]) or None


class UserChangeForm(auth_forms.UserChangeForm):
    """Shows the password hash read-only, with the link to the change-password form.

    A photo uploaded here is judged and re-encoded as the API's are (accounts.photos)."""

    class Meta:
        model = UserProfile
        fields = "__all__"

    def clean_email(self):
        # Blank is null: a patient the front desk registered without an address.
        return normalize_email(self.cleaned_data["email"]) or None

    def clean_profile_photo(self):
        photo = self.cleaned_data.get("profile_photo")
        if isinstance(photo, UploadedFile):
            return photos.reencoded(photo)
        return photo


KEPT = "has slots or bookings: deactivate the account instead"


def has_history(user):
    """Slots of their own (a doctor) or bookings (a patient): the clinic's record."""
    return user.doctor_slots.exists() or user.bookings.exists()


@admin.register(UserProfile)
class UserProfileAdmin(auth_admin.UserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("email", "full_name", "user_type", "is_active", "is_staff")
    list_filter = ("user_type", "is_active", "is_staff")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "user_type", "phone")}),
        ("Photo", {"fields": ("photo_thumbnail", "profile_photo")}),
        ("Personal", {"fields": PERSONAL_FIELDS}),
        ("Doctor", {"fields": DOCTOR_FIELDS}),
        # The doctors a desk user serves: assigned here only (no API changes them).
        ("Front desk", {"fields": ("desk_doctors",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "user_type", "phone", "password1", "password2"),
            },
        ),
        ("Doctor", {"classes": ("wide",), "fields": DOCTOR_FIELDS}),
    )

    readonly_fields = ("photo_thumbnail",)
    filter_horizontal = ("groups", "user_permissions", "desk_doctors")
    actions = ["deactivate"]

    @admin.display(description="Current photo")
    def photo_thumbnail(self, obj):
        if not obj.profile_photo:
            return "-"
        return format_html(
            '<img src="{}" alt="" style="max-width:96px;max-height:96px">', obj.profile_photo.url
        )

    # A doctor's card (and every slot's doctor_details) shows these fields: the
    # public lists' cache must not outlive an edit (listcache/services.py). A
    # replaced or cleared photo's file goes once the change is committed.
    def save_model(self, request, obj, form, change):
        old = UserProfile.objects.filter(pk=obj.pk).values_list("profile_photo", flat=True)
        old_photo = (old.first() or "") if change else ""
        super().save_model(request, obj, form, change)
        if old_photo and old_photo != obj.profile_photo.name:
            transaction.on_commit(partial(default_storage.delete, old_photo))
        bump_after_commit()

    # A user with slots or bookings is never deleted (their history would go with
    # them, or the delete would fail half-way on a protected booking): the delete
    # button is gone, the bulk delete leaves them out, and staff deactivate instead.
    def has_delete_permission(self, request, obj=None):
        return not (obj is not None and has_history(obj)) and super().has_delete_permission(
            request, obj
        )

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        protected += [f"{user} ({KEPT})" for user in objs if has_history(user)]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        if has_history(obj):
            raise PermissionDenied(KEPT)
        super().delete_model(request, obj)
        bump_after_commit()

    def delete_queryset(self, request, queryset):
        # A user who got a slot or a booking since the confirmation page stays.
        for user in queryset.order_by("pk"):
            if has_history(user):
                self.message_user(request, f"{user}: {KEPT}", messages.ERROR)
            else:
                user.delete()
        bump_after_commit()

    @admin.action(permissions=["change"], description="Deactivate selected users")
    def deactivate(self, request, queryset):
        count = queryset.filter(is_active=True).update(is_active=False)
        bump_after_commit()
        self.message_user(request, f"{count} user(s) deactivated.", messages.SUCCESS)
