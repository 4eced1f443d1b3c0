"""Staff manage doctors' weekly schedules and date overrides here. Saving one
brings the doctor's schedule-made slots in step through schedules.services,
exactly as the API does; a refusal (the open-slot cap) undoes the whole save."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect

from config.errors import Invalid, Refused
from schedules import services
from schedules.models import Override, OverrideWindow, Schedule, Window
from schedules.serializers import overlap_errors


class NoOverlapFormSet(forms.BaseInlineFormSet):
    """Windows of one day may touch but not overlap, as the API says."""

    weekday = True

    def clean(self):
        super().clean()
        windows = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("start_time")
            and form.cleaned_data.get("end_time")
        ]
        key = (lambda w: w["weekday"]) if self.weekday else (lambda w: None)
        if errors := overlap_errors(windows, key=key):
            raise forms.ValidationError(errors)


class OneDayFormSet(NoOverlapFormSet):
    weekday = False


class WindowInline(admin.TabularInline):
    model = Window
    formset = NoOverlapFormSet
    extra = 1


class OverrideWindowInline(admin.TabularInline):
    model = OverrideWindow
    formset = OneDayFormSet
    extra = 1


def _synced(model_admin, request, sync):
    """Run `sync` and say what it did; a refusal propagates to SyncedAdmin."""
    outcome = sync()
    kept = ", ".join(str(slot.pk) for slot in outcome.kept) or "none"
    model_admin.message_user(
        request,
        f"Slots made: {len(outcome.made)}, removed: {len(outcome.removed)}; "
        f"booked or held slots kept outside the hours: {kept}.",
    )


class SyncedAdmin(admin.ModelAdmin):
    """A save is one transaction with its slots: a refusal (the open-slot cap)
    undoes all of it and shows the form page again with the reason."""

    def changeform_view(self, request, *args, **kwargs):
        try:
            with transaction.atomic():
                return super().changeform_view(request, *args, **kwargs)
        except (Refused, Invalid) as refusal:
            self.message_user(request, f"Nothing saved: {refusal}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Schedule)
class ScheduleAdmin(SyncedAdmin):
    list_display = ("doctor", "slot_minutes", "weeks_ahead", "made_through", "updated_at")
    search_fields = ("doctor__full_name", "doctor__email")
    list_select_related = ("doctor",)
    readonly_fields = ("made_through",)
    raw_id_fields = ("doctor",)
    inlines = [WindowInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        schedule = form.instance
        windows = [
            {"weekday": w.weekday, "start_time": w.start_time, "end_time": w.end_time}
            for w in schedule.windows.all()
        ]
        _synced(
            self,
            request,
            lambda: services.schedule_put(
                doctor=schedule.doctor,
                slot_minutes=schedule.slot_minutes,
                weeks_ahead=schedule.weeks_ahead,
                windows=windows,
            ),
        )

    def delete_model(self, request, obj):
        """The schedule goes; its free slots go with it (a week with no windows)."""
        with transaction.atomic():
            services.schedule_put(
                doctor=obj.doctor, slot_minutes=obj.slot_minutes, weeks_ahead=1, windows=[]
            )
            Schedule.objects.filter(pk=obj.pk).delete()


@admin.register(Override)
class OverrideAdmin(SyncedAdmin):
    list_display = ("doctor", "date", "slot_minutes", "created_at")
    list_filter = ("date",)
    search_fields = ("doctor__full_name", "doctor__email")
    list_select_related = ("doctor",)
    readonly_fields = ("slot_minutes",)
    raw_id_fields = ("doctor",)
    inlines = [OverrideWindowInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        override = form.instance
        hours = [
            {"start_time": w.start_time, "end_time": w.end_time} for w in override.windows.all()
        ]
        _synced(
            self,
            request,
            lambda: services.override_put(
                doctor=override.doctor, date=override.date, windows=hours
            ),
        )

    def delete_model(self, request, obj):
        """The date goes back to the weekly hours, as the API's DELETE does."""
        services.override_delete(doctor=obj.doctor, date=obj.date)
