def add_tag(tag, tags=None):
    """`tags` with `tag` appended; a new list when none is given."""
    tags = [] if tags is None else tags
    tags.append(tag)
    return tags
