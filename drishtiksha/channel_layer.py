"""The Channels layer: channels_redis's, with a group send in two Redis round trips instead of four.

Every progress event of the pipeline is one `group_send`, and the workers wait for the final ones;
channels_redis spends four round trips on each (drop expired members, list the members, drop
expired messages, add the message). Here the first two share one pipeline and the last two one
Lua script, with the same effect: expired members and messages are dropped, a channel at its
capacity gets nothing, every other member gets the message once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from channels_redis.core import RedisChannelLayer

logger = logging.getLogger(__name__)

# KEYS: the members' channel keys. ARGV: one message per key, then one capacity per key, then
# the time now, the message expiry and the time before which messages have expired.
_GROUP_SEND_LUA = """
local over_capacity = 0
local count = #KEYS
local now = ARGV[count * 2 + 1]
local expiry = ARGV[count * 2 + 2]
local expired_before = ARGV[count * 2 + 3]
for i = 1, count do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, expired_before)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[count + i]) then
        redis.call('ZADD', KEYS[i], now, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


class ProgressChannelLayer(RedisChannelLayer):
    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert self.require_valid_group_name(group), "Group name not valid"
        group_key = self._group_key(group)
        async with self.connection(self.consistent_hash(group)).pipeline(
            transaction=False
        ) as pipeline:
            pipeline.zremrangebyscore(group_key, min=0, max=int(time.time()) - self.group_expiry)
            pipeline.zrange(group_key, 0, -1)
            _, members = await pipeline.execute()
        channel_names = [member.decode("utf8") for member in members]
        keys_by_connection, message_by_key, capacity_by_key = self._map_channel_keys_to_connection(
            channel_names, message
        )
        for index, keys in keys_by_connection.items():
            now = time.time()
            over_capacity = await self.connection(index).eval(
                _GROUP_SEND_LUA,
                len(keys),
                *keys,
                *(message_by_key[key] for key in keys),
                *(capacity_by_key[key] for key in keys),
                now,
                int(self.expiry),
                int(now) - int(self.expiry),
            )
            if over_capacity:
                logger.info(
                    "%s of %s channels over capacity in group %s",
                    over_capacity,
                    len(channel_names),
                    group,
                )
