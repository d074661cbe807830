"""Notice templates (文书模板, issue 15 item 5): one admin-editable Jinja fragment per written notice.

Seeded with a default for each of the five kinds (docs/notices.md lists the variables).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 15:20
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

KINDS = ("acceptance", "refusal", "opinion", "agreement", "termination")

ACCEPTANCE = """<p>{{ applicants }}：</p>
<p>你（们）于{{ reported_on }}提出的“{{ title }}”信访事项（事件编号 {{ number }}，类别：{{ category }}）\
已收悉。根据《信访工作条例》第二十三条的规定，经审查，该事项属于本机关职责范围，决定予以受理，\
受理日期为{{ accepted_on }}。</p>
<p>本机关将依法按程序办理，{% if resolve_due %}在{{ resolve_due }}前{% else %}在法定期限内\
{% endif %}办结并书面答复。你（们）可以扫描下方二维码，凭回执上的查询码了解办理进展。</p>
<p>特此告知。</p>
"""

REFUSAL = """<p>{{ applicants }}：</p>
<p>你（们）于{{ reported_on }}提出的“{{ title }}”信访事项（事件编号 {{ number }}）已收悉。\
根据《信访工作条例》第二十三条的规定，经审查，决定不予受理。</p>
<p>理由：{{ reason }}{% if ground %}（{{ ground }}）{% endif %}</p>
{% if competent_body %}<p>该事项应当由{{ competent_body }}处理，请向其提出。</p>{% endif %}
{% if routes_told %}<p>你（们）可以依法通过{{ routes_told }}途径解决。</p>{% endif %}
{% if notice_text %}<p class="text">{{ notice_text }}</p>{% endif %}
<p>特此告知。</p>
"""

OPINION = """<p>{{ applicants }}：</p>
<p>你（们）于{{ reported_on }}提出的“{{ title }}”信访事项（事件编号 {{ number }}），本机关已于\
{{ accepted_on }}受理。经调查核实，根据《信访工作条例》第三十二条的规定，现出具处理意见如下：</p>
<p>处理结果：{{ outcome }}</p>
<p class="text">{{ reply }}</p>
<p>你（们）对本处理意见不服的，可以自收到本意见书之日起30日内，请求{{ review_to }}复查\
（《信访工作条例》第三十五条）。</p>
"""

AGREEMENT = """<p>当事人：</p>
<ul class="parties">{% for p in parties %}<li>{{ p.role }}：{{ p.name }}\
{% if p.address %}，住址：{{ p.address }}{% endif %}</li>{% endfor %}</ul>
<h2>一、纠纷的主要事实、争议事项</h2>
<p class="text">{{ agreement.facts or "（未填写）" }}</p>
<h2>二、各方当事人的责任</h2>
<p class="text">{{ agreement.responsibilities or "（未填写）" }}</p>
<h2>三、调解协议的内容</h2>
<p class="text">{{ agreement.terms }}</p>
<h2>四、履行方式、时限</h2>
<p class="text">{{ agreement.performance_method or "（未填写）" }}\
{% if agreement.performance_due %}，于{{ agreement.performance_due }}前履行完毕{% endif %}。</p>
<p>本协议依据《中华人民共和国人民调解法》第二十九条制作，自各方当事人签名、人民调解员签名并加盖\
人民调解委员会印章之日起生效。当事人可以自协议生效之日起三十日内共同向人民法院申请司法确认\
（第三十三条）。本协议一式三份，当事人各执一份，人民调解委员会留存一份。</p>
<table class="signatures">
<tr><td>当事人（签名）：</td><td>当事人（签名）：</td></tr>
<tr><td>人民调解员（签名）：{{ mediators }}</td><td>{{ unit }}人民调解委员会（印章）</td></tr>
</table>
<p>签订日期：{{ agreement.signed_on }}</p>
"""

TERMINATION = """<p>{{ parties_named }}：</p>
<p>你们之间的“{{ title }}”纠纷（事件编号 {{ number }}），经{{ unit }}人民调解委员会调解，未能达成\
调解协议。根据《中华人民共和国人民调解法》第二十六条的规定，决定终止调解。</p>
{% if outcome_note %}<p>情况说明：{{ outcome_note }}</p>{% endif %}
<p>你们可以依法通过{{ routes_informed or "诉讼、仲裁、行政" }}等途径维护自己的权利。</p>
<p>特此告知。</p>
"""

DEFAULTS = [
    ("acceptance", "受理告知书", ACCEPTANCE),
    ("refusal", "不予受理告知书", REFUSAL),
    ("opinion", "信访事项处理意见书", OPINION),
    ("agreement", "人民调解协议书", AGREEMENT),
    ("termination", "终止调解告知书", TERMINATION),
]


def upgrade():
    table = op.create_table(
        "notice_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(repr(k) for k in KINDS) + ")", name="notice_kind"
        ),
        sa.UniqueConstraint("kind", name=op.f("uq_notice_templates_kind")),
    )
    op.bulk_insert(table, [{"kind": k, "title": t, "body": b} for k, t, b in DEFAULTS])


def downgrade():
    op.drop_table("notice_templates")
