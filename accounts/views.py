from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    parser_classes,
    permission_classes,
    throttle_classes,
    throttle_scope,
)
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from accounts.serializers import (
    LoginSerializer,
    LoginUserSerializer,
    ProfileSerializer,
    ProfileUpdateSerializer,
    SignupSerializer,
)
from config.openapi import ERROR, FIELD_ERRORS, THROTTLED, UNAUTHENTICATED
from config.parsers import SafeJSONParser
from config.throttles import SharedScopedRateThrottle


@extend_schema(
    request=SignupSerializer,
    responses={
        201: inline_serializer(
            "SignedUp", {"message": serializers.CharField(), "user": ProfileSerializer()}
        ),
        400: FIELD_ERRORS,
        429: THROTTLED,
    },
    auth=[],
    description="Every field is also accepted in camelCase (fullName, userType, "
    "yearsOfExperience, consultationFee, clinicAddress, videoConsultFee, homeConsultFee, "
    "homeConsultation). Doctor fields sent for a patient are ignored. A taken email is "
    '400 `{"message": "Email already registered"}`, checked once every field is valid.',
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([SharedScopedRateThrottle])
@throttle_scope("signup")
def signup(request):
    """Create a patient or doctor account."""
    serializer = SignupSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    user = services.user_signup(**serializer.validated_data)
    return Response(
        {"message": "Signup successful", "user": ProfileSerializer(user).data},
        status=status.HTTP_201_CREATED,
    )


@extend_schema(
    request=LoginSerializer,
    responses={
        200: inline_serializer(
            "LoggedIn",
            {
                "access": serializers.CharField(),
                "refresh": serializers.CharField(),
                "user": LoginUserSerializer(),
            },
        ),
        400: FIELD_ERRORS,
        401: OpenApiResponse(ERROR, description='`{"error": "Invalid credentials"}`'),
        403: OpenApiResponse(ERROR, description='`{"error": "Invalid role"}`'),
        429: THROTTLED,
    },
    auth=[],
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([SharedScopedRateThrottle])
@throttle_scope("login")
def login(request):
    """Exchange email and password for a JWT pair, optionally checking the role."""
    serializer = LoginSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    user = authenticate(request, email=data["email"], password=data["password"])
    if user is None:
        return Response({"error": "Invalid credentials"}, status=status.HTTP_401_UNAUTHORIZED)
    role = data.get("user_type")
    if role and role != user.user_type:
        return Response({"error": "Invalid role"}, status=status.HTTP_403_FORBIDDEN)
    refresh = RefreshToken.for_user(user)
    update_last_login(None, user)
    return Response(
        {
            "access": str(refresh.access_token),
            "refresh": str(refresh),
            "user": LoginUserSerializer(user).data,
        }
    )


@extend_schema(responses={200: ProfileSerializer, 401: UNAUTHENTICATED})
@api_view(["GET"])
def profile(request):
    """The caller's own profile."""
    return Response(ProfileSerializer(request.user, context={"request": request}).data)


@extend_schema(
    request=ProfileUpdateSerializer,
    responses={200: ProfileSerializer, 400: FIELD_ERRORS, 401: UNAUTHENTICATED, 429: THROTTLED},
    description="JSON, `multipart/form-data` (the only way to send `profilePhoto`, a "
    "JPEG, PNG or WebP picture of at most 5 MiB and 4096x4096 pixels, stored re-encoded) "
    "or `application/x-www-form-urlencoded`. In a form post an empty value means unset; "
    "`profilePhoto` null or empty removes the photo, its current URL sent back changes "
    "nothing. Every field is also accepted in snake_case, `address` also as "
    "`deliveryAddress`. Doctor fields sent for any other role are ignored. An address "
    'another account has is 400 `{"message": "Email already registered"}`, checked only '
    "once every field is valid.",
)
@api_view(["PATCH"])
@parser_classes([SafeJSONParser, MultiPartParser, FormParser])
@throttle_classes([SharedScopedRateThrottle])
@throttle_scope("profile")
def profile_update(request):
    """Change the caller's own profile fields (never role, flags or password)."""
    serializer = ProfileUpdateSerializer(request.user, data=request.data, partial=True)
    serializer.is_valid(raise_exception=True)
    user = services.user_update(user=request.user, **serializer.validated_data)
    return Response(ProfileSerializer(user, context={"request": request}).data)
