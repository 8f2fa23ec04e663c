"""The benchmark's dataset, generated deterministically, and the results every
implementation must produce from it.

The dataset is a tuple graph with explicit keys: N users, 5 posts each,
2 comments per post (the comment's author is another user), 50 tags and
2 distinct tags per post, and a tree of N categories, 6 levels deep (W16).
The same ``Dataset`` object is handed to every
implementation: the raw loader inserts it as it is (keys included) for the
loading workloads, and W1 builds new objects from it (keys left for the
database to generate, the tuples' keys only say what links to what).

Results are compared in a *canonical* form (everything sorted, rows named by
their natural keys: user name, post title, tag name), so the order in which
an ORM hands back rows and collections does not matter, while every row and
every relation does. Where the order is the result (W13's keys, W10's
queries, each answer in its place), it is kept."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional

POSTS_PER_USER = 5
COMMENTS_PER_POST = 2
TAG_COUNT = 50
TAGS_PER_POST = 2
#: W5: how many of each user's newest published posts
NEWEST = 3
#: W8: how many users are looked up (each twice)
LOOKUPS = 1000
#: W9: how many short sessions ("web requests") run, at most
REQUESTS = 1000
#: W10: how many queries of each of the four kinds are built and run, at most
QUERIES_PER_KIND = 500
#: W14: how many users are upserted (half of them exist), at most
UPSERTS = 2000
#: W15: the batch size of the streamed query
STREAM_BATCH = 1000
#: W16: the levels of the category tree (its root is level 1)
TREE_DEPTH = 6
SEED = 20240605

WORKLOADS = {
    "W1": "persist the whole graph as new objects, one transaction",
    "W2": "all users with their posts",
    "W3": "all posts with their author",
    "W4": "all posts with their tags (pivot)",
    "W5": "users, 3 newest published posts, comments, comment authors",
    "W6": "change the title of 10% of posts through loaded objects",
    "W7": "delete 10% of users, cascading",
    "W8": "1,000 users by primary key, twice in one session",
    "W9": "1,000 web requests: a user, its posts with tags, a title, a comment",
    "W10": "2,000 distinct small queries (by name, newest posts, count, exists)",
    # W11 is kept for another issue's workload
    "W12": "every user with its number of posts",
    "W13": "all posts ordered by their author's name",
    "W14": "upsert 2,000 users by name, half of them existing",
    "W15": "stream all comments with their post, 1,000 a batch",
    "W16": "a category tree of depth 6, loaded whole",
}


class CheckFailed(AssertionError):
    """An implementation produced something other than the expected result."""


@dataclass
class Dataset:
    n: int
    #: (id, name, age)
    users: list[tuple[int, str, int]] = field(default_factory=list)
    #: (id, name)
    tags: list[tuple[int, str]] = field(default_factory=list)
    #: (id, author_id, title, published)
    posts: list[tuple[int, int, str, bool]] = field(default_factory=list)
    #: (id, post_id, author_id, text)
    comments: list[tuple[int, int, int, str]] = field(default_factory=list)
    #: (post_id, tag_id)
    post_tags: list[tuple[int, int]] = field(default_factory=list)
    #: (id, parent_id or None, name), level by level: a parent before its children
    categories: list[tuple[int, Optional[int], str]] = field(default_factory=list)

    # -- what the mutating and lookup workloads act on -------------------------
    @cached_property
    def edited_post_ids(self) -> frozenset[int]:
        """W6: every tenth post."""
        return frozenset(p[0] for p in self.posts if p[0] % 10 == 0)

    @staticmethod
    def edited_title(title: str) -> str:
        return title + " (edited)"

    @cached_property
    def deleted_user_ids(self) -> list[int]:
        """W7: every tenth user."""
        return [u[0] for u in self.users if u[0] % 10 == 0]

    @cached_property
    def lookup_ids(self) -> list[int]:
        """W8: 1,000 user keys spread over the table (fewer when N < 1,000)."""
        m = min(LOOKUPS, self.n)
        return [self.users[(k * self.n) // m][0] for k in range(m)]

    @cached_property
    def upserts(self) -> list[tuple[str, int]]:
        """W14: (name, age) of ``min(UPSERTS, N)`` users by their unique name,
        alternately one that exists (spread over the table, its age changed) and
        a new one."""
        m = min(UPSERTS, self.n)
        half = m // 2
        existing = [self.users[(k * self.n) // half] for k in range(half)]
        new = [(f"new-user-{k:06d}", 18 + (k * 7) % 60) for k in range(1, m - half + 1)]
        out: list[tuple[str, int]] = []
        for k, (_, name, age) in enumerate(existing):
            out.append((name, self.upserted_age(age)))
            out.append(new[k])
        out.extend(new[half:])
        return out

    @staticmethod
    def upserted_age(age: int) -> int:
        return (age - 18 + 1) % 60 + 18       # always another age than before

    @cached_property
    def requests(self) -> list[tuple[int, int, str]]:
        """W9: (user key, index of the post to change, comment text) of each of
        ``min(REQUESTS, N)`` requests, one user each, spread over the table. A
        request loads the user and its posts with their tags (the posts in key
        order), gives the post at the index the title ``request_title(title, its
        tag names)`` and adds the comment to that post, written by the user."""
        m = min(REQUESTS, self.n)
        out = []
        for k in range(m):
            uid, name, _ = self.users[(k * self.n) // m]
            out.append((uid, k % POSTS_PER_USER, f"Request {k}: comment by {name}"))
        return out

    @staticmethod
    def request_title(title: str, tag_names: Any) -> str:
        """W9: the new title of a post, made from its tags (so they must be loaded)."""
        return f"{title} [{', '.join(sorted(tag_names))}]"

    @cached_property
    def queries(self) -> list[tuple[str, int, int, int, int]]:
        """W10: ``min(QUERIES_PER_KIND, N)`` rounds of four queries, each round
        (user name, author key, post key, exists post key, exists user key):

        - the user with that name;
        - the author's ``NEWEST`` newest published posts (key, title), newest first;
        - the number of comments on the post;
        - whether the exists user commented on the exists post (the commenter
          in even rounds: true; the post's own author in odd ones: false).

        The parameters of each kind differ from round to round (at N >= 500),
        so no result cache can serve a query."""
        m = min(QUERIES_PER_KIND, self.n)
        n, posts = self.n, self.posts
        out = []
        for k in range(m):
            name = self.users[(k * n) // m][1]
            author = self.users[((2 * k + 1) * n) // (2 * m)][0]
            counted = posts[(k * len(posts)) // m][0]
            asked = posts[((k * len(posts)) // m + 2) % len(posts)]
            who = self.comments_of[asked[0]][0][2] if k % 2 == 0 else asked[1]
            out.append((name, author, counted, asked[0], who))
        return out

    # -- indexes over the tuples -------------------------------------------------
    @cached_property
    def user_name(self) -> dict[int, str]:
        return {u[0]: u[1] for u in self.users}

    @cached_property
    def post_title(self) -> dict[int, str]:
        return {p[0]: p[2] for p in self.posts}

    @cached_property
    def tag_name(self) -> dict[int, str]:
        return {t[0]: t[1] for t in self.tags}

    @cached_property
    def posts_of(self) -> dict[int, list[tuple[int, int, str, bool]]]:
        out: dict[int, list[tuple[int, int, str, bool]]] = {u[0]: [] for u in self.users}
        for p in self.posts:
            out[p[1]].append(p)
        return out

    @cached_property
    def comments_of(self) -> dict[int, list[tuple[int, int, int, str]]]:
        out: dict[int, list[tuple[int, int, int, str]]] = {p[0]: [] for p in self.posts}
        for c in self.comments:
            out[c[1]].append(c)
        return out

    @cached_property
    def tags_of(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {p[0]: [] for p in self.posts}
        for post_id, tag_id in self.post_tags:
            out[post_id].append(tag_id)
        return out

    @cached_property
    def children_of(self) -> dict[Optional[int], list[tuple[int, Optional[int], str]]]:
        """W16: the categories under each category key (None: the roots)."""
        out: dict[Optional[int], list[tuple[int, Optional[int], str]]] = {None: []}
        for c in self.categories:
            out[c[0]] = []
        for c in self.categories:
            out[c[1]].append(c)
        return out

    def counts(self) -> dict[str, int]:
        return {"users": len(self.users), "posts": len(self.posts), "comments": len(self.comments),
                "tags": len(self.tags), "post_tags": len(self.post_tags),
                "categories": len(self.categories)}


def generate(n: int, seed: int = SEED) -> Dataset:
    """The dataset for ``n`` users; the same ``n`` (and seed) always gives the same data."""
    if n < 2:
        raise ValueError("the dataset needs at least 2 users (comments are by another user)")
    rng = random.Random(seed)
    d = Dataset(n)
    d.tags = [(t, f"tag-{t:02d}") for t in range(1, TAG_COUNT + 1)]
    tag_ids = [t[0] for t in d.tags]
    post_id = comment_id = 0
    for uid in range(1, n + 1):
        name = f"user-{uid:06d}"
        d.users.append((uid, name, 18 + rng.randrange(60)))
        for _ in range(POSTS_PER_USER):
            post_id += 1
            d.posts.append((post_id, uid, f"Post {post_id} by {name}", rng.random() < 0.5))
            for _ in range(COMMENTS_PER_POST):
                comment_id += 1
                other = (uid - 1 + rng.randrange(1, n)) % n + 1     # never the post's author
                d.comments.append((comment_id, post_id, other,
                                   f"Comment {comment_id} on post {post_id}"))
            for tag_id in sorted(rng.sample(tag_ids, TAGS_PER_POST)):
                d.post_tags.append((post_id, tag_id))
    # a generator of its own, so the graph above stays what it was before the tree
    d.categories = category_tree(max(n, TREE_DEPTH), random.Random(seed + 1))
    return d


def category_tree(total: int, rng: random.Random) -> list[tuple[int, Optional[int], str]]:
    """``total`` categories in one tree of exactly ``TREE_DEPTH`` levels: one
    root, levels growing geometrically, each category's parent drawn from the
    level above (so some inner categories are leaves). Keys are shuffled, so
    a child's key is as often below its parent's as above; rows are listed
    level by level, every parent before its children."""
    lo, hi = 1.0, float(total)
    for _ in range(60):       # the branching factor b with 1 + b + ... + b^(depth-1) = total
        b = (lo + hi) / 2
        if sum(b ** k for k in range(TREE_DEPTH)) > total:
            hi = b
        else:
            lo = b
    sizes = [max(1, round(lo ** k)) for k in range(TREE_DEPTH - 1)]
    sizes.append(max(1, total - sum(sizes)))
    keys = list(range(1, sum(sizes) + 1))
    rng.shuffle(keys)
    rows: list[tuple[int, Optional[int], str]] = []
    above: list[Optional[int]] = [None]
    for size in sizes:
        level = [keys.pop() for _ in range(size)]
        rows.extend((k, rng.choice(above), f"category-{k:06d}") for k in level)
        above = list(level)
    return rows


# -- expected results -------------------------------------------------------------
# Each loading workload returns plain Python values, built from the objects its
# ORM loaded (reading them is part of the timed work); ``canonical`` puts them in
# one order, and they must equal ``expected``.

def canonical(workload: str, result: Any) -> Any:
    if workload == "W2":      # [(user name, age, [post titles])]
        return sorted((name, age, tuple(sorted(titles))) for name, age, titles in result)
    if workload == "W3":      # [(post title, author name)]
        return sorted(tuple(r) for r in result)
    if workload == "W4":      # [(post title, [tag names])]
        return sorted((title, tuple(sorted(tags))) for title, tags in result)
    if workload == "W5":      # [(user name, [(post title, [(comment text, comment author name)])])]
        return sorted((name, tuple(sorted((title, tuple(sorted(tuple(c) for c in comments)))
                                          for title, comments in posts)))
                      for name, posts in result)
    if workload == "W6":      # number of posts changed
        return result
    if workload == "W7":      # number of users deleted (as the ORM reports it, or None)
        return result
    if workload == "W8":      # [(id, name)] for the first pass then the second
        return [tuple(r) for r in result]
    if workload == "W1":      # number of objects created (or None)
        return result
    if workload == "W9":      # number of requests served
        return result
    if workload == "W10":     # per round: (id, name, age), [(id, title)], count, exists
        return [_w10_value(i % 4, r) for i, r in enumerate(result)]
    if workload == "W12":     # [(user name, number of posts)]
        return sorted((name, int(count)) for name, count in result)
    if workload == "W13":     # [post id], in the order loaded: the order is the result
        return [int(pid) for pid in result]
    if workload == "W15":     # [(comment text, post title)]
        return sorted(tuple(r) for r in result)
    if workload == "W16":     # [(root name, [(child name, [...]), ...])]
        return sorted(_tree(t) for t in result)
    raise KeyError(workload)


def _w10_value(kind: int, value: Any) -> Any:
    if kind == 0:
        return tuple(value)
    if kind == 1:
        return tuple(tuple(p) for p in value)
    if kind == 2:
        return int(value)
    return bool(value)


def _tree(node: Any) -> tuple:
    name, children = node
    return (name, tuple(sorted(_tree(c) for c in children)))


def expected(workload: str, d: Dataset) -> Any:
    """The canonical result of ``workload`` on the full dataset ``d``."""
    if workload == "W2":
        return canonical("W2", [(u[1], u[2], [p[2] for p in d.posts_of[u[0]]]) for u in d.users])
    if workload == "W3":
        return canonical("W3", [(p[2], d.user_name[p[1]]) for p in d.posts])
    if workload == "W4":
        return canonical("W4", [(p[2], [d.tag_name[t] for t in d.tags_of[p[0]]]) for p in d.posts])
    if workload == "W5":
        out = []
        for u in d.users:
            newest = sorted((p for p in d.posts_of[u[0]] if p[3]), key=lambda p: -p[0])[:NEWEST]
            out.append((u[1], [(p[2], [(c[3], d.user_name[c[2]]) for c in d.comments_of[p[0]]])
                               for p in newest]))
        return canonical("W5", out)
    if workload == "W8":
        ids = d.lookup_ids
        return [(i, d.user_name[i]) for i in ids] * 2
    if workload == "W10":
        users = {u[1]: u for u in d.users}
        out = []
        for name, author, counted, asked, who in d.queries:
            out.append(users[name])
            out.append([(p[0], p[2]) for p in sorted((p for p in d.posts_of[author] if p[3]),
                                                     key=lambda p: -p[0])[:NEWEST]])
            out.append(len(d.comments_of[counted]))
            out.append(any(c[2] == who for c in d.comments_of[asked]))
        return canonical("W10", out)
    if workload == "W12":
        return canonical("W12", [(u[1], len(d.posts_of[u[0]])) for u in d.users])
    if workload == "W13":
        return [p[0] for p in sorted(d.posts, key=lambda p: (d.user_name[p[1]], p[0]))]
    if workload == "W15":
        return canonical("W15", [(c[3], d.post_title[c[1]]) for c in d.comments])
    if workload == "W16":
        def tree(c: tuple) -> tuple:
            return (c[2], [tree(k) for k in d.children_of[c[0]]])
        return canonical("W16", [tree(root) for root in d.children_of[None]])
    raise KeyError(workload)


# -- expected database contents (W1, W6, W7, W9, W14) -----------------------------------

def snapshot_of(d: Dataset, *, deleted_users: frozenset[int] = frozenset(),
                edited_posts: frozenset[int] = frozenset(),
                upserted: tuple[tuple[str, int], ...] = (),
                retitled: Optional[dict[int, str]] = None,
                added_comments: tuple[tuple[int, int, str], ...] = (),
                categories: bool = True) -> dict[str, list[tuple]]:
    """What the tables must hold, by natural keys (see ``backend.Admin.snapshot``).
    ``upserted``: (name, age) rows written by name over the users; ``retitled``:
    post key -> new title; ``added_comments``: (post key, author key, text) of
    new comments; ``categories``: whether the category tree is there (W1 starts
    from empty tables and does not make one)."""
    ages = {name: age for uid, name, age in d.users if uid not in deleted_users}
    ages.update(upserted)
    title = dict(d.post_title)
    for pid in edited_posts:
        title[pid] = Dataset.edited_title(title[pid])
    title.update(retitled or {})
    live_posts = {p[0] for p in d.posts if p[1] not in deleted_users}
    out = {
        "users": sorted(ages.items()),
        "posts": sorted((d.user_name[p[1]], title[p[0]], bool(p[3]))
                        for p in d.posts if p[0] in live_posts),
        "comments": sorted([(title[c[1]], d.user_name[c[2]], c[3]) for c in d.comments
                            if c[1] in live_posts and c[2] not in deleted_users]
                           + [(title[pid], d.user_name[uid], text)
                              for pid, uid, text in added_comments]),
        "tags": sorted(t[1] for t in d.tags),
        "post_tags": sorted((title[pid], d.tag_name[tid]) for pid, tid in d.post_tags
                            if pid in live_posts),
    }
    out["counts"] = [(table, len(out[table]))
                     for table in ("users", "posts", "comments", "tags", "post_tags")]
    out["counts"].append(("categories", len(d.categories) if categories else 0))
    return out


def expected_snapshot(workload: str, d: Dataset) -> dict[str, list[tuple]]:
    if workload == "W1":
        return snapshot_of(d, categories=False)
    if workload == "W14":
        return snapshot_of(d, upserted=tuple(d.upserts))
    if workload == "W6":
        return snapshot_of(d, edited_posts=d.edited_post_ids)
    if workload == "W9":
        retitled: dict[int, str] = {}
        added = []
        for uid, index, text in d.requests:
            pid = sorted(p[0] for p in d.posts_of[uid])[index]
            retitled[pid] = Dataset.request_title(
                d.post_title[pid], [d.tag_name[t] for t in d.tags_of[pid]])
            added.append((pid, uid, text))
        return snapshot_of(d, retitled=retitled, added_comments=tuple(added))
    if workload == "W7":
        return snapshot_of(d, deleted_users=frozenset(d.deleted_user_ids))
    raise KeyError(workload)


def compare(what: str, got: Any, want: Any) -> None:
    """Raise ``CheckFailed`` naming the first difference between two results."""
    if got == want:
        return
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want:
            compare(f"{what}, table {key}", got.get(key), want[key])
        return
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            missing = [w for w in want if w not in set(got)][:3] if _hashable(want) else []
            extra = [g for g in got if g not in set(want)][:3] if _hashable(got) else []
            raise CheckFailed(f"{what}: {len(got)} rows instead of {len(want)}"
                              + (f"; missing e.g. {missing}" if missing else "")
                              + (f"; unexpected e.g. {extra}" if extra else ""))
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                raise CheckFailed(f"{what}: row {i} is {_short(g)}, expected {_short(w)}")
    raise CheckFailed(f"{what}: got {_short(got)}, expected {_short(want)}")


def _short(value: Any, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _hashable(rows: list) -> bool:
    try:
        set(rows)
    except TypeError:
        return False
    return True
