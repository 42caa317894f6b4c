from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User


class AdultSignupForm(forms.Form):
    """allauth's signup form extended with the required 18-or-older confirmation."""

    adult = forms.BooleanField(
        required=True,
        label="I am 18 or older",
        error_messages={"required": "You must be 18 or older to sign up."},
    )

    def signup(self, request: HttpRequest, user: User) -> None:
        user.adult_confirmed_at = timezone.now()
        user.is_guest = False
        user.save(update_fields=["adult_confirmed_at", "is_guest"])


class ClaimGuestForm(SetPasswordForm):
    """Turns a guest account into a full one: a password, and the adult confirmation."""

    adult = AdultSignupForm.base_fields["adult"]


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["keeps_history"]
        labels = {"keeps_history": "Keep a history of my conversations"}

    def clean_keeps_history(self) -> bool:
        keeps = self.cleaned_data["keeps_history"]
        if keeps and self.instance.is_guest:
            raise forms.ValidationError(
                "Guests cannot keep history. Set a password first to make this a full account.")
        return keeps
