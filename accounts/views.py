"""Account pages: server-rendered, calling the same services as the API."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as session_login
from django.contrib.auth import logout as session_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.api_keys import (
    api_key_create,
    api_key_get_for_user,
    api_key_revoke,
    api_keys_for_user,
)
from accounts.forms import (
    ApiKeyCreateForm,
    LoginForm,
    PasswordChangeForm,
    PasswordResetRequestForm,
    ProfileForm,
    SetPasswordForm,
    SignupForm,
)
from accounts.models import ApiKey, User
from accounts.selectors import user_for_password_reset
from accounts.throttling import PasswordResetRateThrottle, SignupRateThrottle
from accounts.tokens import access_token_for
from audit.services import audit_context_from_request
from drishtiksha.api.authentication import clear_auth_cookie, set_auth_cookie
from drishtiksha.api.throttling import ClientAddressRateThrottle
from drishtiksha.errors import DomainError, TooManyRequests
from drishtiksha.forms import form_add_domain_error
from drishtiksha.http import client_ip, public_base_url

# The reset token moves from the URL into the session and the URL gets this placeholder, so the
# token cannot leak through the Referer header or the browser history (as Django's own view does).
RESET_SESSION_KEY = "_password_reset_token"
RESET_URL_TOKEN = "set-password"  # noqa: S105 - a URL placeholder, not a secret


def _safe_next(request: HttpRequest, candidate: str) -> str:
    """`next` if it points back at this site, else the default landing page (no open redirect)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _throttle_message(request: HttpRequest, throttle: ClientAddressRateThrottle) -> str | None:
    """The pages share the API's per-address counters, so neither door is a way around the other."""
    if throttle.allow_request(request, None):
        return None
    return (
        f"Too many attempts from your network. Try again in {round(throttle.wait() or 1)} seconds."
    )


def _logged_in_redirect(request: HttpRequest, user: User, *, next_url: str = "") -> HttpResponse:
    """Start the browser session and give the extension its `authToken` cookie too."""
    session_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    response = redirect(_safe_next(request, next_url))
    set_auth_cookie(response, access_token=access_token_for(user=user))
    return response


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request, next_url))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_authenticate(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                client_ip=client_ip(request),
            )
        except DomainError as error:
            form_add_domain_error(form, error)
            if isinstance(error, TooManyRequests):
                # The failed-login limit: the form again, with the status and the wait.
                response = render(
                    request, "accounts/login.html", {"form": form, "next": next_url}, status=429
                )
                response["Retry-After"] = str(error.retry_after)
                return response
        else:
            return _logged_in_redirect(request, user, next_url=next_url)
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


@never_cache
@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if throttled := _throttle_message(request, SignupRateThrottle()):
            form.add_error(None, throttled)
            return render(request, "accounts/signup.html", {"form": form}, status=429)
        try:
            user = services.user_signup(
                email=data["email"],
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, "Welcome to Drishtiksha. Your account is ready.")
            return _logged_in_redirect(request, user)
    return render(request, "accounts/signup.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    session_logout(request)
    messages.info(request, "You have been logged out.")
    response = redirect(settings.LOGOUT_REDIRECT_URL)
    clear_auth_cookie(response)
    return response


def _render_profile(
    request: HttpRequest,
    *,
    profile_form: ProfileForm | None = None,
    password_form: PasswordChangeForm | None = None,
    api_key_form: ApiKeyCreateForm | None = None,
    new_api_key: tuple[ApiKey, str] | None = None,
) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/profile.html",
        {
            "profile_form": profile_form
            or ProfileForm(initial={"first_name": user.first_name, "last_name": user.last_name}),
            "password_form": password_form or PasswordChangeForm(),
            "api_key_form": api_key_form or ApiKeyCreateForm(),
            "api_keys": api_keys_for_user(user=user),
            "new_api_key": new_api_key[0] if new_api_key else None,
            "new_api_key_secret": new_api_key[1] if new_api_key else "",
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def profile_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render_profile(request)
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            services.user_update_profile(user=request.user, **form.cleaned_data)
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            messages.success(request, "Your profile has been updated.")
            return redirect("accounts:profile")
    return _render_profile(request, profile_form=form)


@never_cache
@sensitive_post_parameters("current_password", "new_password", "new_password_again")
@login_required
@require_http_methods(["GET", "POST"])
def password_change_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return redirect("accounts:profile")
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        try:
            services.user_change_password(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            # Every other login has just ended; this browser stays logged in.
            update_session_auth_hash(request, request.user)
            messages.success(request, "Your password has been changed.")
            response = redirect("accounts:profile")
            set_auth_cookie(response, access_token=access_token_for(user=request.user))
            return response
    return _render_profile(request, password_form=form)


@never_cache
@login_required
@require_POST
def api_key_create_view(request: HttpRequest) -> HttpResponse:
    """The new key's secret is shown in this answer only: rendered, not redirected, so that it
    never passes through the session or a message store."""
    form = ApiKeyCreateForm(request.POST)
    if form.is_valid():
        try:
            created = api_key_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                audit=audit_context_from_request(request),
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            # `never_cache` keeps the page with the secret out of every cache.
            return _render_profile(request, new_api_key=created)
    return _render_profile(request, api_key_form=form)


@never_cache
@login_required
@require_POST
def api_key_revoke_view(request: HttpRequest, key_id: object) -> HttpResponse:
    """Revokes only a POST that says `confirmed=yes`: the page's dialog adds it, and without
    scripts the first POST lands on a confirmation page instead."""
    try:
        key = api_key_get_for_user(user=request.user, key_id=key_id)
    except DomainError as error:
        raise Http404(error.message) from error
    if request.POST.get("confirmed") != "yes":
        return render(request, "accounts/api_key_revoke_confirm.html", {"key": key})
    api_key_revoke(key=key, audit=audit_context_from_request(request))
    messages.success(request, f"API key \u201c{key.name}\u201d has been revoked.")
    return redirect(f"{resolve_url('accounts:profile')}#api-keys-heading")


@require_http_methods(["GET", "POST"])
def password_reset_view(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if throttled := _throttle_message(request, PasswordResetRateThrottle()):
            form.add_error(None, throttled)
            return render(request, "accounts/password_reset_form.html", {"form": form}, status=429)
        services.password_reset_request(
            email=form.cleaned_data["email"], base_url=public_base_url(request)
        )
        return redirect("accounts:password_reset_done")
    return render(request, "accounts/password_reset_form.html", {"form": form})


def password_reset_done_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_done.html")


@never_cache
@sensitive_post_parameters("new_password", "new_password_again")
@require_http_methods(["GET", "POST"])
def password_reset_confirm_view(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if token != RESET_URL_TOKEN:
        if user_for_password_reset(uidb64=uidb64, token=token) is None:
            return render(request, "accounts/password_reset_confirm.html", {"valid_link": False})
        request.session[RESET_SESSION_KEY] = token
        return redirect("accounts:password_reset_confirm", uidb64=uidb64, token=RESET_URL_TOKEN)

    session_token = request.session.get(RESET_SESSION_KEY, "")
    if user_for_password_reset(uidb64=uidb64, token=session_token) is None:
        return render(request, "accounts/password_reset_confirm.html", {"valid_link": False})
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_confirm(
                uidb64=uidb64, token=session_token, new_password=form.cleaned_data["new_password"]
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            del request.session[RESET_SESSION_KEY]
            return redirect("accounts:password_reset_complete")
    return render(
        request, "accounts/password_reset_confirm.html", {"valid_link": True, "form": form}
    )


def password_reset_complete_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_complete.html")
