"""Auth API (`/api/v1/auth/...`): validate input, call a service, answer in the envelope."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth import logout as session_logout
from django.contrib.auth import update_session_auth_hash
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuthResultSerializer,
    LoginSerializer,
    LogoutSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    SignupSerializer,
    TokenPairSerializer,
    UserSerializer,
    WsTicketSerializer,
)
from accounts.api_keys import (
    api_key_create,
    api_key_get_for_user,
    api_key_revoke,
    api_keys_for_user,
)
from accounts.authentication import API_KEY_REFUSED_MESSAGE, NotApiKey
from accounts.models import User
from accounts.throttling import PasswordResetRateThrottle, SignupRateThrottle
from accounts.tokens import TokenPair
from accounts.ws_tickets import PROGRESS_WEBSOCKET_PATH, ws_ticket_issue
from audit.services import audit_context_from_request
from drishtiksha.api.authentication import (
    clear_auth_cookie,
    origin_is_own_or_trusted,
    set_auth_cookie,
)
from drishtiksha.api.pagination import EnvelopePagination
from drishtiksha.api.responses import ApiResponse
from drishtiksha.http import client_ip, public_base_url

TAG = "auth"


def _token_response(
    *, tokens: TokenPair, user: User | None = None, message: str, status: int = 200
) -> ApiResponse:
    data = {"token": tokens.access, "refreshToken": tokens.refresh}
    if user is not None:
        data = {"user": UserSerializer(user).data, **data}
    response = ApiResponse(data, message=message, status=status)
    set_auth_cookie(response, access_token=tokens.access)
    # A credential in the body: no browser or proxy cache may keep a copy.
    add_never_cache_headers(response)
    return response


class AnonymousEndpoint(APIView):
    """Endpoints for callers who are not (or no longer) logged in.

    No authenticator runs, so a stale cookie or session can neither cause a 401 nor demand a CSRF
    token on the way to logging in again. What CSRF would have caught is refused here instead: a
    browser names the page's origin on every cross-site POST, and a foreign page must not log a
    visitor out, or plant its own `authToken` cookie by logging them in as someone else. Callers
    that send no Origin (scripts, mobile apps) are not browsers and pass.
    """

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        origin = request.headers.get("Origin")
        if origin and not origin_is_own_or_trusted(request, origin):
            raise PermissionDenied("Cross-site request refused: this origin is not trusted.")


class SignupView(AnonymousEndpoint):
    """Create an ordinary account (never an admin) and log it in, as `login` does."""

    throttle_classes = (SignupRateThrottle,)

    @extend_schema(
        tags=[TAG],
        summary="Create an account and log in",
        request=SignupSerializer,
        responses={
            201: AuthResultSerializer,
            409: OpenApiResponse(description="An account with this email already exists."),
        },
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_signup(**serializer.validated_data)
        tokens = services.auth_tokens_issue(user=user)
        return _token_response(tokens=tokens, user=user, message="Account created", status=201)


class LoginView(AnonymousEndpoint):
    """Email and password for a token pair. After `LOGIN_FAILURE_LIMIT` failures for one email from
    one address within `LOGIN_FAILURE_WINDOW_SECONDS`, further attempts get 429 with Retry-After."""

    @extend_schema(
        tags=[TAG],
        summary="Log in; also sets the httpOnly authToken cookie",
        request=LoginSerializer,
        responses={
            200: AuthResultSerializer,
            401: OpenApiResponse(description="Invalid email or password (or inactive account)."),
            429: OpenApiResponse(description="Too many failed attempts for this email."),
        },
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_authenticate(**serializer.validated_data, client_ip=client_ip(request))
        tokens = services.auth_tokens_issue(user=user)
        return _token_response(tokens=tokens, user=user, message="Logged in")


class RefreshView(AnonymousEndpoint):
    """Rotation: each refresh token works once; using a revoked one gets 401."""

    @extend_schema(
        tags=[TAG],
        summary="Exchange a refresh token for a new pair (the old one is revoked)",
        request=RefreshSerializer,
        responses={
            200: TokenPairSerializer,
            401: OpenApiResponse(description="Invalid, expired or revoked refresh token."),
        },
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens = services.auth_tokens_refresh(**serializer.validated_data)
        return _token_response(tokens=tokens, message="Token refreshed")


class LogoutView(AnonymousEndpoint):
    """Always succeeds, even with an expired or missing credential."""

    @extend_schema(
        tags=[TAG],
        summary="Log out: revoke the refresh token if given, clear the cookie and the session",
        request=LogoutSerializer,
        responses={200: OpenApiResponse(description="Logged out.")},
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if refresh_token := serializer.validated_data.get("refresh_token"):
            services.refresh_token_revoke(refresh_token=refresh_token)
        session_logout(request._request)
        response = ApiResponse(None, message="Logged out")
        clear_auth_cookie(response)
        return response


class ProfileView(APIView):
    """The logged-in user. Only `firstName` and `lastName` can be changed; sending any other key
    (role, isActive, email, password, id...) is a 400 naming it, and nothing is changed."""

    @extend_schema(tags=[TAG], summary="The current user", responses={200: UserSerializer})
    def get(self, request: Request) -> ApiResponse:
        return ApiResponse(UserSerializer(request.user).data)

    @extend_schema(
        tags=[TAG],
        summary="Change firstName / lastName (no other field may be sent)",
        request=ProfileUpdateSerializer,
        responses={200: UserSerializer},
    )
    def put(self, request: Request) -> ApiResponse:
        serializer = ProfileUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update_profile(user=request.user, **serializer.validated_data)
        return ApiResponse(UserSerializer(user).data, message="Profile updated")

    @extend_schema(
        tags=[TAG],
        summary="Change firstName / lastName (no other field may be sent)",
        request=ProfileUpdateSerializer,
        responses={200: UserSerializer},
    )
    def patch(self, request: Request) -> ApiResponse:
        return self.put(request)


class PasswordChangeView(APIView):
    """Every refresh and access token issued before is revoked; the answer carries a new pair and
    a browser session making the call stays logged in. An API key cannot change the password."""

    permission_classes = (IsAuthenticated, NotApiKey)

    @extend_schema(
        tags=[TAG],
        summary="Change the password; every other login ends, and a new token pair is returned",
        request=PasswordChangeSerializer,
        responses={
            200: TokenPairSerializer,
            401: OpenApiResponse(description="Not logged in, or the current password is wrong."),
            403: OpenApiResponse(description=API_KEY_REFUSED_MESSAGE),
        },
    )
    def put(self, request: Request) -> ApiResponse:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = request.user
        services.user_change_password(user=user, **serializer.validated_data)
        if isinstance(request.successful_authenticator, SessionAuthentication):
            update_session_auth_hash(request._request, user)
        tokens = services.auth_tokens_issue(user=user)
        return _token_response(tokens=tokens, message="Password changed")


class PasswordResetRequestView(AnonymousEndpoint):
    """Emails a link to the reset page; the link's `uidb64` and `token` also work with `confirm`."""

    throttle_classes = (PasswordResetRateThrottle,)

    @extend_schema(
        tags=[TAG],
        summary="Email a password reset link (same answer whether or not the account exists)",
        request=PasswordResetRequestSerializer,
        responses={200: OpenApiResponse(description="Reset link sent if the account exists.")},
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(
            email=serializer.validated_data["email"], base_url=public_base_url(request)
        )
        return ApiResponse(
            None, message="If an account exists for this email, a reset link has been sent."
        )


class PasswordResetConfirmView(AnonymousEndpoint):
    """A link works once; afterwards every existing login of the account has ended."""

    throttle_classes = (PasswordResetRateThrottle,)

    @extend_schema(
        tags=[TAG],
        summary="Set a new password with the uid and token from the emailed link",
        request=PasswordResetConfirmSerializer,
        responses={200: OpenApiResponse(description="Password reset.")},
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.password_reset_confirm(
            uidb64=data["uid"], token=data["token"], new_password=data["new_password"]
        )
        return ApiResponse(None, message="Your password has been reset. You can now log in.")


class WsTicketView(APIView):
    """A short-lived, one-time ticket for the progress websocket, for clients without a session.

    Connect to `/ws/progress/?ticket=<ticket>` within `expiresIn` seconds; the ticket is spent on
    first use, so a URL that leaks into a log is worthless afterwards.
    """

    @extend_schema(
        tags=[TAG],
        summary="Get a one-time ticket to open the progress websocket",
        request=None,
        responses={201: WsTicketSerializer},
    )
    def post(self, request: Request) -> ApiResponse:
        issued = ws_ticket_issue(user=request.user)
        data = {
            "ticket": issued.ticket,
            "expiresIn": issued.expires_in,
            "url": f"{PROGRESS_WEBSOCKET_PATH}?{urlencode({'ticket': issued.ticket})}",
        }
        response = ApiResponse(data, message="WebSocket ticket issued", status=201)
        add_never_cache_headers(response)
        return response


class ApiKeyCollectionView(GenericAPIView):
    """The caller's API keys. Managing keys needs a password login (token or session): a key
    cannot list, create or revoke keys, so a leaked one cannot entrench itself."""

    permission_classes = (IsAuthenticated, NotApiKey)
    pagination_class = EnvelopePagination
    serializer_class = ApiKeySerializer

    @extend_schema(
        tags=[TAG],
        summary="Your API keys, newest first, revoked ones included (never the secret)",
        responses={
            200: ApiKeySerializer(many=True),
            403: OpenApiResponse(description=API_KEY_REFUSED_MESSAGE),
        },
    )
    def get(self, request: Request) -> ApiResponse:
        page = self.paginate_queryset(api_keys_for_user(user=request.user))
        return self.paginator.get_paginated_response(
            ApiKeySerializer(page, many=True).data, message="API keys retrieved"
        )

    @extend_schema(
        tags=[TAG],
        summary="Create an API key; its secret is in `key`, in this answer only",
        request=ApiKeyCreateSerializer,
        responses={
            201: ApiKeyCreatedSerializer,
            403: OpenApiResponse(description=API_KEY_REFUSED_MESSAGE),
            409: OpenApiResponse(
                description="A key with this name exists, or the maximum of active keys is reached."
            ),
        },
    )
    def post(self, request: Request) -> ApiResponse:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = api_key_create(
            owner=request.user,
            name=serializer.validated_data["name"],
            audit=audit_context_from_request(request),
        )
        data = {**ApiKeySerializer(key).data, "key": secret}
        response = ApiResponse(data, message="API key created; copy it now", status=201)
        add_never_cache_headers(response)
        return response


class ApiKeyDetailView(APIView):
    permission_classes = (IsAuthenticated, NotApiKey)

    @extend_schema(
        tags=[TAG],
        summary="Revoke an API key: it stops working at once (the list still shows it)",
        responses={204: None, 403: OpenApiResponse(description=API_KEY_REFUSED_MESSAGE)},
    )
    def delete(self, request: Request, key_id) -> ApiResponse:
        key = api_key_get_for_user(user=request.user, key_id=key_id)
        api_key_revoke(key=key, audit=audit_context_from_request(request))
        return ApiResponse(status=204)
