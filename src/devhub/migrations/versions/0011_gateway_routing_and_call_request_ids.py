"""gateway routing by API path and host; call request ids

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22

Products get host names (`hosts`); a product's API entries get their own id (a product may offer two
versions of one API) and an optional path segment under the product's prefix; gateway call records get the
request id answered to the caller. The product API table is rebuilt (new primary key) with its rows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _product_apis(name: str, with_id: bool) -> sa.Table:
    columns = [sa.Column("id", sa.Integer(), nullable=False)] if with_id else []
    columns += [
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("api_ref", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
    ]
    if with_id:
        columns.append(sa.Column("path", sa.String(length=255), nullable=True))
    key = ("id",) if with_id else ("product_id", "api_ref")
    return op.create_table(
        name,
        *columns,
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["apps_products.id"],
            name=op.f("fk_apps_product_apis_product_id_apps_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_apps_product_apis")),
    )


def _swap(with_id: bool) -> None:
    """Copy apps_product_apis into a table of the other shape and put it in its place (constraint names
    are per table name on PostgreSQL, so the old table is renamed away first)."""
    op.rename_table("apps_product_apis", "apps_product_apis_old")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE apps_product_apis_old RENAME CONSTRAINT pk_apps_product_apis TO pk_apps_product_apis_old"
        )
        op.execute(
            "ALTER TABLE apps_product_apis_old RENAME CONSTRAINT fk_apps_product_apis_product_id_apps_products "
            "TO fk_apps_product_apis_old_product"
        )
    _product_apis("apps_product_apis", with_id)
    if with_id:
        op.execute(
            "INSERT INTO apps_product_apis (product_id, api_ref, version) "
            "SELECT product_id, api_ref, version FROM apps_product_apis_old ORDER BY product_id, api_ref"
        )
        op.create_index(op.f("ix_apps_product_apis_product_id"), "apps_product_apis", ["product_id"], unique=False)
    else:  # one row per (product, API): the first entry of each wins
        op.execute(
            "INSERT INTO apps_product_apis (product_id, api_ref, version) "
            "SELECT product_id, api_ref, version FROM apps_product_apis_old o WHERE o.id = "
            "(SELECT min(i.id) FROM apps_product_apis_old i WHERE i.product_id = o.product_id AND i.api_ref = o.api_ref)"
        )
    op.drop_table("apps_product_apis_old")


def upgrade() -> None:
    _swap(with_id=True)
    with op.batch_alter_table("apps_products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hosts", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("apps_products", schema=None) as batch_op:
        batch_op.alter_column("hosts", server_default=None)
    with op.batch_alter_table("gateway_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateway_calls", schema=None) as batch_op:
        batch_op.drop_column("request_id")
    with op.batch_alter_table("apps_products", schema=None) as batch_op:
        batch_op.drop_column("hosts")
    with op.batch_alter_table("apps_product_apis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_product_apis_product_id"))
    _swap(with_id=False)
