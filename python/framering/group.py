"""Consumer groups, as the C++ worker splits them: member I of N takes frames with
frame_no % N == I, so N readers of one ring share the work without talking to each other.
"""


class Member:
    def __init__(self, member, members):
        if not (isinstance(members, int) and members >= 1):
            raise ValueError(f"members must be a positive integer, got {members!r}")
        if not (isinstance(member, int) and 0 <= member < members):
            raise ValueError(f"member must be in [0, {members}), got {member!r}")
        self.member = member
        self.members = members

    def owns(self, frame_no):
        return frame_no % self.members == self.member

    def next_owned(self, frame_no):
        """The smallest owned frame number >= frame_no."""
        return frame_no + (self.member - frame_no) % self.members

    def last_owned(self, frame_no):
        """The largest owned frame number <= frame_no, or None when there is none."""
        if frame_no < 0:
            return None
        last = frame_no - (frame_no - self.member) % self.members
        return last if last >= 0 else None

    def count(self, lo, hi):
        """How many owned frame numbers lie in [lo, hi)."""
        if hi <= lo:
            return 0
        first = self.next_owned(lo)
        return 0 if first >= hi else (hi - 1 - first) // self.members + 1

    def __repr__(self):
        return f"Member({self.member}, {self.members})"


def split(members):
    """All members of an N-way group, e.g. for starting N Python workers."""
    return [Member(i, members) for i in range(members)]
