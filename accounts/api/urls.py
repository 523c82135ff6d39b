"""`/api/v1/auth/...`. No trailing slashes, as the existing clients call them."""

from django.urls import path

from accounts.api import views

app_name = "auth-api"

urlpatterns = [
    path("signup", views.SignupView.as_view(), name="signup"),
    path("login", views.LoginView.as_view(), name="login"),
    path("refresh", views.RefreshView.as_view(), name="refresh"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("profile", views.ProfileView.as_view(), name="profile"),
    path("profile/password", views.PasswordChangeView.as_view(), name="password-change"),
    path("password-reset", views.PasswordResetRequestView.as_view(), name="password-reset"),
    path("ws-ticket", views.WsTicketView.as_view(), name="ws-ticket"),
    path("api-keys", views.ApiKeyCollectionView.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
    path(
        "password-reset/confirm",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
]
