from django.urls import path

from . import views

urlpatterns = [
    path("flows/<int:flow_id>/trigger", views.trigger_flow, name="flow-trigger"),
]
