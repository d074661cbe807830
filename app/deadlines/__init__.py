"""Legal deadlines (期限): the holiday calendar and day counting (民法典 第二百零一至二百零三条)."""
