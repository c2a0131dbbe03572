"""The vocabulary of the fallback (``crates/core/src/model/``): handles, the arena, the
state-variable layouts, state values, addresses and loosely typed input values.

The enums (statuses, upload reasons, event kinds, connection states) are
``offload_tree._enums`` and the error catalogue ``offload_tree._messages``: the facade shares
them, so they live beside it rather than here.
"""
