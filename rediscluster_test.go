package descopeoidc

import (
	"reflect"
	"testing"
)

// TestRedisKeySlot: CRC16/XMODEM and the slots Redis 7.0.15 itself gives (CLUSTER KEYSLOT), hash tags included.
func TestRedisKeySlot(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16 check value: %#x, want 0x31c3", got)
	}
	for key, want := range map[string]int{
		"foo": 12182, "bar": 5061, "hello": 866, "": 0,
		"{user1000}.following": 3443, "{user1000}.followers": 3443, "user1000": 3443,
		"foo{}{bar}":    8363, // an empty first tag: the whole key is hashed
		"foo{{bar}}zap": 4015,
		"foo{bar}{zap}": 5061, // only the first tag
	} {
		if got := redisKeySlot(key); got != want {
			t.Errorf("slot of %q: %d, want %d", key, got, want)
		}
	}
}

func TestParseClusterSlots(t *testing.T) {
	node := func(host string, port int64) redisReply {
		return redisReply{kind: '*', elems: []redisReply{{kind: '$', str: host}, {kind: ':', num: port}, {kind: '$', str: "id"}}}
	}
	rng := func(a, b int64, m ...redisReply) redisReply {
		return redisReply{kind: '*', elems: append([]redisReply{{kind: ':', num: a}, {kind: ':', num: b}}, m...)}
	}
	rep := redisReply{kind: '*', elems: []redisReply{
		rng(0, 5460, node("127.0.0.1", 7000), node("127.0.0.1", 7100)),
		rng(5461, 16383, node("", 7001)),
	}}
	got, err := parseClusterSlots(rep, "10.1.1.1:7000")
	if err != nil {
		t.Fatal(err)
	}
	want := []redisSlotRange{{0, 5460, "127.0.0.1:7000"}, {5461, 16383, "10.1.1.1:7001"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%+v, want %+v", got, want)
	}
	for _, bad := range []redisReply{
		{kind: '-', str: "ERR This instance has cluster support disabled"},
		{kind: '*'},
		{kind: '*', elems: []redisReply{rng(0, 16384, node("h", 1))}},
		{kind: '*', elems: []redisReply{rng(5, 4, node("h", 1))}},
		{kind: '*', elems: []redisReply{rng(0, 1)}},
	} {
		if _, err := parseClusterSlots(bad, "h:1"); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestInstallSlots: the table maps every slot of each range to its master; a MOVED then changes one slot only.
func TestInstallSlots(t *testing.T) {
	cl := newRedisClient(&redisOptions{mode: "cluster"})
	cl.installSlots([]redisSlotRange{{0, 99, "a:1"}, {100, 16383, "b:2"}})
	cl.setSlot(5, "c:3")
	for slot, want := range map[int]string{0: "a:1", 99: "a:1", 100: "b:2", 16383: "b:2", 5: "c:3"} {
		if got := cl.slotNode(slot); got != want {
			t.Errorf("slot %d: %q, want %q", slot, got, want)
		}
	}
}
