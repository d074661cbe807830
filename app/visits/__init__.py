"""走访 / 民情日志: grid workers ' household visits, their review and coverage."""
