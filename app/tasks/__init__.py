"""My tasks (我的待办): what each user must do next, across cases, dispatches and inspections."""
