"""Display names of the codes the API speaks (states, kinds, levels, ...), translatable.

The Chinese names are the ones the domain modules use (app/cases/workflow.py and models);
tests/web/test_labels.py checks that the two agree and that every code has a name.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.warnings.rules import KIND_NAMES

STATES = {
    "reported": _l("待受理"),
    "accepted": _l("已受理"),
    "in_progress": _l("办理中"),
    "resolved": _l("已办结"),
    "followed_up": _l("已回访"),
    "closed": _l("已归档"),
    "rejected": _l("不予受理"),
    "withdrawn": _l("已撤回"),
}
KINDS = {"dispute": _l("矛盾纠纷"), "petition": _l("信访事项"), "incident": _l("治安/安全事件")}
LEVELS = {"village": _l("村级"), "town": _l("镇级"), "county": _l("县级")}
REGION_LEVELS = {
    "province": _l("省"),
    "prefecture": _l("市"),
    "county": _l("县/区"),
    "town": _l("乡/镇/街道"),
    "village": _l("村/社区"),
    "grid_cell": _l("网格"),
}
WARNINGS = {"none": _l("正常"), "yellow": _l("黄牌"), "red": _l("红牌")}
SUPERVISION = {"none": _l("无"), "normal": _l("普通"), "yellow": _l("黄牌"), "red": _l("红牌")}
SOURCES = {
    "grid_patrol": _l("网格员巡查"),
    "visit": _l("群众来访"),
    "letter": _l("来信"),
    "phone": _l("电话/12345"),
    "online": _l("网上"),
    "video": _l("视频监控"),
    "assigned": _l("上级交办"),
    "other": _l("其他"),
    "court_referral": _l("法院委派"),
    "police_referral": _l("公安委托"),
}
COMPLEXITY = {"simple": _l("简单"), "ordinary": _l("一般"), "complex": _l("复杂")}
PARTY_ROLES = {"applicant": _l("申请人"), "respondent": _l("被申请人"), "third_party": _l("第三人")}
FOLLOW_UP_METHODS = {"phone": _l("电话"), "visit": _l("上门"), "online": _l("网上")}
SATISFACTION = {
    "satisfied": _l("满意"),
    "basically_satisfied": _l("基本满意"),
    "dissatisfied": _l("不满意"),
}
OUTCOMES = {
    "agreement": _l("调解成功"),
    "failed": _l("调解不成"),
    "referred": _l("转办"),
    "supported": _l("支持"),
    "explained": _l("解释说明"),
    "not_supported": _l("不予支持"),
    "handled": _l("已处置"),
    "refused": _l("当事人拒绝调解"),
}
JUDICIAL = {
    "pending": _l("未申请"),
    "applied": _l("已申请"),
    "confirmed": _l("已确认"),
    "rejected": _l("被驳回"),
    "not_applied": _l("不申请"),
    "invalid": _l("确认无效"),
}
ROUTES_INFORMED = {
    "诉讼": _l("诉讼"),
    "仲裁": _l("仲裁"),
    "行政": _l("行政"),
    "行政复议": _l("行政复议"),
    "有权机关": _l("向有权机关提出"),
}
REJECTION_GROUNDS = {
    "outside_remit": _l("不属于本机关职权范围"),
    "other_route": _l("应通过诉讼、仲裁、行政复议解决"),
    "same_matter": _l("同一信访事项正在办理或已复核"),
    "after_re_review": _l("复核后同一事实和理由"),
    "other": _l("其他"),
}
AGREEMENT_FORMS = {"written": _l("书面协议"), "oral": _l("口头协议")}
ROLES = {
    "grid_worker": _l("网格员"),
    "mediator": _l("调解员"),
    "official": _l("干部"),
    "admin": _l("系统管理员"),
    "department_staff": _l("部门工作人员"),
}
# Kinds of unit (app/dispatch/models.py DEPARTMENT_KINDS).
DEPARTMENT_KINDS = {
    "police": _l("公安"),
    "justice": _l("司法"),
    "labour": _l("人社/劳动监察"),
    "land": _l("自然资源"),
    "market": _l("市场监管"),
    "housing": _l("住建"),
    "safety": _l("应急管理"),
    "petition": _l("信访"),
    "health": _l("卫生健康"),
    "environment": _l("生态环境"),
    "agriculture": _l("农业农村"),
    "other": _l("其他"),
}
# Workflow actions (app/cases/workflow.py names) and the timeline's other entries.
ACTIONS = {
    "accept": _l("受理"),
    "reject": _l("不予受理"),
    "start": _l("开始办理"),
    "resolve": _l("办结"),
    "follow_up": _l("回访"),
    "close": _l("归档"),
    "escalate": _l("提级"),
    "assign_down": _l("交办"),
    "withdraw": _l("撤回"),
    "request_extension": _l("申请延期"),
    "approve_extension": _l("审批延期"),
    "supervise": _l("督办"),
    "reopen": _l("重新办理"),
    "record_performance": _l("履行情况"),
    "record_judicial": _l("司法确认"),
    "request_review": _l("复查申请"),
    "request_re_review": _l("复核申请"),
    "confirm_different_matter": _l("确认非同一事项"),
    "refuse_mediation": _l("当事人拒绝调解"),
    "name_mediators": _l("指定调解员"),
    "claim": _l("认领"),
    "assign_handler": _l("指定承办人"),
    "reopen_invalid": _l("协议无效后重新办理"),
    "start_hearing": _l("开始听证"),
    "end_hearing": _l("结束听证"),
    "record_reply_received": _l("答复送达"),
    "dispatch": _l("分拨交办"),
    "record_progress": _l("办理记录"),
}
# The dispatch table (app/cases/workflow.py DISPATCH_WORKFLOW): steps, states, roles.
DISPATCH_ACTIONS = {
    "sign": _l("签收"),
    "return": _l("退回"),
    "report": _l("办结反馈"),
    "accept": _l("核查通过"),
    "redo": _l("重办"),
    "claim": _l("认领"),
    "assign_handler": _l("指定承办人"),
}
DISPATCH_STATES = {
    "sent": _l("待签收"),
    "signed": _l("办理中"),
    "reported": _l("待核查"),
    "accepted": _l("已办结"),
    "returned": _l("已退回"),
    "withdrawn": _l("已结束"),
}
DISPATCH_ROLES = {"lead": _l("主办"), "co": _l("协办"), "informed": _l("抄告")}
EVENTS = {
    **ACTIONS,
    "dispatch_sign": _l("分拨签收"),
    "dispatch_return": _l("分拨退回"),
    "dispatch_report": _l("办结反馈"),
    "dispatch_accept": _l("核查通过"),
    "dispatch_redo": _l("重办"),
    "dispatch_claim": _l("认领分拨"),
    "dispatch_assign_handler": _l("指定承办人"),
    "dispatch_warning": _l("分拨预警变化"),
    "dispatch_withdrawn": _l("分拨结束"),
    "report": _l("登记"),
    "auto_escalate": _l("自动提级"),
    "warning": _l("预警变化"),
    "same_matter": _l("疑似同一信访事项"),
}
# Case categories (app/cases/schemas.py CATEGORIES): stored in Chinese, shown translated.
CATEGORIES = {
    "婚姻家庭": _l("婚姻家庭"),
    "邻里": _l("邻里"),
    "土地山林水利权属": _l("土地山林水利权属"),
    "征地拆迁安置": _l("征地拆迁安置"),
    "劳资": _l("劳资"),
    "合同/经济": _l("合同/经济"),
    "环境污染/人居环境": _l("环境污染/人居环境"),
    "村(社)务管理": _l("村(社)务管理"),
    "医疗/教育": _l("医疗/教育"),
    "其他": _l("其他"),
    "治安": _l("治安"),
    "交通": _l("交通"),
    "安全生产": _l("安全生产"),
    "消防": _l("消防"),
    "食品药品": _l("食品药品"),
    "防汛/地质灾害": _l("防汛/地质灾害"),
    "四乱": _l("四乱"),
    "民生服务": _l("民生服务"),
}
# The deadline policy's clocks (app/deadlines/policy.py names).
CLOCKS = {
    "accept": _l("受理期限"),
    "resolve": _l("办结期限"),
    "extension_max": _l("最长延期"),
    "review_request": _l("复查申请期限"),
    "review_answer": _l("复查答复期限"),
    "re_review_request": _l("复核申请期限"),
    "re_review_decision": _l("复核决定期限"),
    "judicial_window": _l("司法确认申请期限"),
}
UNITS = {"days": _l("日"), "working_days": _l("工作日")}
# Risk points (shared/DOMAIN.md §5): four colours, status, inspection results, categories.
RISK_LEVELS = {
    "red": _l("红色（重大）"),
    "orange": _l("橙色（较大）"),
    "yellow": _l("黄色（一般）"),
    "blue": _l("蓝色（低）"),
}
RISK_STATUSES = {"active": _l("在控"), "cleared": _l("已消除")}
RISK_EVENTS = {
    "register": _l("登记"),
    "change_level": _l("调整等级"),
    "request_clear": _l("申请消除"),
    "approve_clear": _l("批准消除"),
    "clear": _l("消除"),
    "refuse_clear": _l("不批准消除"),
    "inspect": _l("排查"),
    "overdue": _l("排查超期"),
}
INSPECTION_RESULTS = {"normal": _l("正常"), "abnormal": _l("异常")}
RISK_CATEGORIES = {
    "欠薪": _l("欠薪"),
    "四乱": _l("四乱"),
    "重点人群": _l("重点人群"),
    "安全生产": _l("安全生产"),
    "消防": _l("消防"),
    "防汛/地质灾害": _l("防汛/地质灾害"),
    "道路交通": _l("道路交通"),
    "房屋安全": _l("房屋安全"),
    "食品药品": _l("食品药品"),
    "涉稳": _l("涉稳"),
}
# My tasks (app/tasks/queries.py): kinds, and what to do (its ACTION_NAMES).
TASK_KINDS = {
    "case": _l("事件办理"),
    "follow_up": _l("回访"),
    "inspection": _l("风险点排查"),
    "dispatch": _l("分拨"),
    "campaign_task": _l("专项排查"),
    "self_report": _l("随手拍"),  # selfreport (issue 15 item 4)
}
TASK_ACTIONS = {
    "accept": _l("受理"),
    "resolve": _l("办结"),
    "follow_up": _l("回访"),
    "inspect": _l("排查"),
    "sign": _l("签收"),
    "report": _l("办结反馈"),
    "review": _l("核查"),
    "redispatch": _l("重新分拨"),
    "campaign_check": _l("录入排查结果"),
    "verify": _l("核实随手拍"),  # selfreport (issue 15 item 4)
}
# Campaigns (专项排查, app/campaigns/models.py): findings, checklist answers, states.
CAMPAIGN_RESULTS = {
    "none": _l("未发现问题"),
    "risk_point": _l("登记风险点"),
    "case": _l("上报事件"),
}
CAMPAIGN_ANSWERS = {"yes": _l("是"), "no": _l("否"), "na": _l("不适用")}
CAMPAIGN_STATES = {"active": _l("进行中"), "closed": _l("已结束")}

# Notification events (app/notify/models.py EVENTS), as the inbox and its settings name them.
NOTIFICATION_EVENTS = {
    "case_assigned": _l("事件转入我的待办"),
    "case_escalated": _l("事件被提级"),
    "case_handed_down": _l("事件交办至本级"),
    "dispatch_received": _l("收到分拨"),
    "dispatch_returned": _l("分拨被退回"),
    "dispatch_reported": _l("承办单位反馈"),
    "dispatch_accepted": _l("反馈通过核查"),
    "dispatch_redo": _l("分拨重办"),
    "dispatch_withdrawn": _l("分拨结束"),
    "due_soon": _l("即将到期（黄牌）"),
    "overdue": _l("已逾期（红牌）"),
    "supervised": _l("督办"),
    "extension_decided": _l("延期申请结果"),
    "follow_up_dissatisfied": _l("回访不满意"),
    "handler_assigned": _l("被指定为承办人"),
    "campaign_overdue": _l("专项排查任务逾期"),
    "warning_raised": _l("研判预警"),
    "self_report_received": _l("新随手拍待核实"),  # selfreport (issue 15 item 4)
    "resident_dissatisfied": _l("群众评价不满意"),
}
REVEAL_PURPOSES = {
    "contact": _l("联系当事人"),
    "mediation": _l("调解或办理需要"),
    "verify": _l("核实身份"),
    "document": _l("制作法律文书"),
    "transfer": _l("移交有关部门"),
    "other": _l("其他（须说明）"),
}
# 研判预警 (app/warnings): the kinds (app/warnings/rules.py names them) and states.
WARNING_KINDS = KIND_NAMES
WARNING_STATES = {"open": _l("待签收"), "acknowledged": _l("已签收"), "handled": _l("已处置")}
WARNING_ACTIONS = {"acknowledge": _l("签收"), "handle": _l("处置")}
TABLES = {
    "state": STATES,
    "reveal_purpose": REVEAL_PURPOSES,
    "kind": KINDS,
    "level": LEVELS,
    "region_level": REGION_LEVELS,
    "warning": WARNINGS,
    "supervision": SUPERVISION,
    "source": SOURCES,
    "complexity": COMPLEXITY,
    "party_role": PARTY_ROLES,
    "method": FOLLOW_UP_METHODS,
    "satisfaction": SATISFACTION,
    "resident_rating": {
        "satisfied": _l("满意"),
        "basically": _l("基本满意"),
        "dissatisfied": _l("不满意"),
    },
    "outcome": OUTCOMES,
    "judicial": JUDICIAL,
    "route": ROUTES_INFORMED,
    "ground": REJECTION_GROUNDS,
    "agreement_form": AGREEMENT_FORMS,
    "role": ROLES,
    "department_kind": DEPARTMENT_KINDS,
    "action": ACTIONS,
    "dispatch_action": DISPATCH_ACTIONS,
    "dispatch_state": DISPATCH_STATES,
    "dispatch_role": DISPATCH_ROLES,
    "event": EVENTS,
    "clock": CLOCKS,
    "unit": UNITS,
    "category": {**CATEGORIES, **RISK_CATEGORIES},
    "risk_level": RISK_LEVELS,
    "risk_status": RISK_STATUSES,
    "risk_event": RISK_EVENTS,
    "result": INSPECTION_RESULTS,
    "notification_event": NOTIFICATION_EVENTS,
    "task_kind": TASK_KINDS,
    "task_action": TASK_ACTIONS,
    "campaign_result": CAMPAIGN_RESULTS,
    "campaign_answer": CAMPAIGN_ANSWERS,
    "campaign_state": CAMPAIGN_STATES,
    "warning_kind": WARNING_KINDS,
    "warning_state": WARNING_STATES,
    "warning_action": WARNING_ACTIONS,
}


def label(table: str, code) -> str:
    """The display name of a code in this request's language; the code itself if unknown."""
    if code is None:
        return ""
    name = TABLES[table].get(code)
    return str(name) if name is not None else str(code)


def choices(table: str, codes=None) -> list[tuple[str, str]]:
    """(code, display name) pairs for a select box, in the table's order or the given one."""
    codes = list(TABLES[table]) if codes is None else codes
    return [(code, label(table, code)) for code in codes]
