"""Jira Cloud REST v3 at a glance: the endpoints syncer calls, the fields it asks for, and the page sizes."""

API = "/rest/api/3"
SERVER_INFO_PATH = f"{API}/serverInfo"
MYSELF_PATH = f"{API}/myself"
FIELD_PATH = f"{API}/field"
STATUS_PATH = f"{API}/status"
PROJECT_SEARCH_PATH = f"{API}/project/search"
SEARCH_PATH = f"{API}/search/jql"
BULK_CHANGELOG_PATH = f"{API}/changelog/bulkfetch"
ISSUE_CHANGELOG_PATH = f"{API}/issue/{{key}}/changelog"
ISSUE_WORKLOG_PATH = f"{API}/issue/{{key}}/worklog"

WORKLOG_UPDATED_PATH = f"{API}/worklog/updated"
WORKLOG_DELETED_PATH = f"{API}/worklog/deleted"
WORKLOG_LIST_PATH = f"{API}/worklog/list"
# intake write-back
ISSUE_PATH = f"{API}/issue/{{key}}"
COMMENT_PATH = f"{API}/issue/{{key}}/comment"

# Always requested from search, whatever the field mapping.
BASE_FIELDS = ("summary", "issuetype", "status", "created", "updated", "labels", "parent", "worklog", "resolutiondate",
               "issuelinks")  # "is blocked by" links: depends_on

TIMEOUT_S = (10.0, 60.0)  # connect, read seconds

# Page sizes and batch limits
CHANGELOG_ISSUES = 1000  # issues per bulk changelog request: the endpoint's limit
CHANGELOG_PAGE = 1000  # change histories per bulk changelog page
WORKLOG_PAGE = 5000  # worklogs per /issue/{key}/worklog page: the endpoint's maximum
WORKLOG_IDS = 1000  # ids per POST /worklog/list: the endpoint's limit
IDS_PER_JQL = 100  # issue ids per `id in (...)` clause, so a search URL stays short
