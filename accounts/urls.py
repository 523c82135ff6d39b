"""Account pages under /accounts/."""

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("signup/", views.signup_view, name="signup"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile_view, name="profile"),
    path("profile/password/", views.password_change_view, name="password_change"),
    path("profile/api-keys/", views.api_key_create_view, name="api_key_create"),
    path(
        "profile/api-keys/<uuid:key_id>/revoke/",
        views.api_key_revoke_view,
        name="api_key_revoke",
    ),
    path("password-reset/", views.password_reset_view, name="password_reset"),
    path("password-reset/done/", views.password_reset_done_view, name="password_reset_done"),
    path(
        "reset/<str:uidb64>/<str:token>/",
        views.password_reset_confirm_view,
        name="password_reset_confirm",
    ),
    path("reset/done/", views.password_reset_complete_view, name="password_reset_complete"),
]
