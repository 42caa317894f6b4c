from typing import Any

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User


def adult_field() -> forms.BooleanField:
    return forms.BooleanField(
        required=True,
        label="I am 18 or older",
        error_messages={"required": "You must be 18 or older to use an account here."},
    )


class AdultSignupForm(forms.Form):
    """allauth's signup form extended with the required 18-or-older confirmation."""

    adult = adult_field()

    def signup(self, request: HttpRequest, user: User) -> None:
        user.adult_confirmed_at = timezone.now()
        user.is_guest = False
        user.save(update_fields=["adult_confirmed_at", "is_guest"])


class ClaimGuestForm(SetPasswordForm):
    """Turns a guest account into a full one: a password, and the adult confirmation."""

    adult = adult_field()


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["keeps_history", "shares_presence"]
        labels = {"keeps_history": "Keep a history of my conversations",
                  "shares_presence": "Let my contacts see when I am online"}
        help_texts = {"shares_presence": "Only people you agreed to keep in touch with ever "
                                         "see it, and only while this is on."}

    def clean_keeps_history(self) -> bool:
        keeps = self.cleaned_data["keeps_history"]
        if keeps and self.instance.is_guest:
            raise forms.ValidationError(
                "Guests cannot keep history. Set a password first to make this a full account.")
        return keeps


class HistoryToggleForm(PreferencesForm):
    """The chat page's history switch: it sends `keeps_history` only, so nothing else may
    change (an absent checkbox would read as "off")."""

    class Meta(PreferencesForm.Meta):
        fields = ["keeps_history"]


class DeleteAccountForm(forms.Form):
    """Proof that the person at the keyboard owns the account: its password, or for a guest,
    who has none, the handle typed out."""

    password = forms.CharField(label="Your password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete":
                                                                 "current-password"}))
    confirm_handle = forms.CharField(label="Type your handle to confirm")

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if user.has_usable_password():
            del self.fields["confirm_handle"]
        else:
            del self.fields["password"]
            self.fields["confirm_handle"].help_text = format_html(
                "Type <strong>{}</strong> exactly as it is shown.", user.username)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password

    def clean_confirm_handle(self) -> str:
        typed = self.cleaned_data["confirm_handle"]
        if typed != self.user.username:
            raise forms.ValidationError(f"Type {self.user.username} exactly to confirm.")
        return typed
