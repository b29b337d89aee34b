"""Asana REST at a glance: the endpoints syncer reads, the fields it asks for (`opt_fields`), and page sizes."""

TASKS_PATH = "/projects/{project}/tasks"
MODIFIED_TASKS_PATH = "/tasks"  # ?project=...&modified_since=...: the incremental read
STORIES_PATH = "/tasks/{task}/stories"
TIME_ENTRIES_PATH = "/tasks/{task}/time_tracking_entries"

# opt_fields: only what the mapping reads
TASK_OPT_FIELDS = (
    "gid,name,resource_subtype,assignee.name,assignee.email,created_by.name,created_by.email,created_at,"
    "completed,completed_at,due_on,due_at,notes,tags.name,parent.gid,permalink_url,modified_at,actual_time_minutes,"
    "dependencies.gid,"
    "memberships.project.gid,memberships.project.name,memberships.section.gid,memberships.section.name,"
    "custom_fields.gid,custom_fields.name,custom_fields.resource_subtype,custom_fields.type,"
    "custom_fields.number_value,custom_fields.text_value,custom_fields.enum_value.name,"
    "custom_fields.multi_enum_values.name,custom_fields.date_value,custom_fields.display_value,"
    "custom_fields.format,custom_fields.people_value.name"
)
STORY_OPT_FIELDS = (
    "gid,created_at,resource_subtype,created_by.name,created_by.email,project.gid,"
    "old_section.name,old_section.project.gid,new_section.name,new_section.project.gid"
)
TIME_ENTRY_OPT_FIELDS = "gid,duration_minutes,entered_on,created_at,created_by.name,created_by.email"

PAGE_LIMIT = 100  # Asana's largest `limit`
TAG_PAGE = 100  # tags per page when looking up the intake tag
REQUEST_TIMEOUT = (10, 60)  # (connect, read) seconds; the client's default is to wait forever
