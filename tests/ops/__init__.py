"""Tests of app/ops."""
