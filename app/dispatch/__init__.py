"""Departments (职能部门), routing rules and dispatches (分拨交办): shared/DOMAIN.md §8."""
