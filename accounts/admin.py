from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import forms as auth_forms

from accounts.models import DOCTOR_FIELDS, UserProfile, normalize_email
from listcache.services import bump_after_commit


class UserCreationForm(auth_forms.UserCreationForm):
    """Email instead of username; the password goes through set_password (hashed, validated)."""

    class Meta:
        model = UserProfile
        fields = ("email", "full_name", "user_type", "phone", *DOCTOR_FIELDS)

    def clean_email(self):
        return normalize_email(self.cleaned_data["email"])


class UserChangeForm(auth_forms.UserChangeForm):
    """Shows the password hash read-only, with the link to the change-password form."""

    class Meta:
        model = UserProfile
        fields = "__all__"

    def clean_email(self):
        return normalize_email(self.cleaned_data["email"])


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
        ("Doctor", {"fields": DOCTOR_FIELDS}),
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

    # A doctor's card (and every slot's doctor_details) shows these fields: the
    # public lists' cache must not outlive an edit (listcache/services.py).
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        bump_after_commit()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        bump_after_commit()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        bump_after_commit()
