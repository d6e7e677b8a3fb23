"""Sessions that end: `user.session_epoch`, bumped when a person signs out, so every session
cookie issued before (another browser, a copied cookie) stops working at once."""

from peewee import IntegerField


def up(migrator, db):
    migrator.migrate(migrator.add_column("user", "session_epoch", IntegerField(default=0)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("user", "session_epoch"))
