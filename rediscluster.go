package descopeoidc

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"
)

// Redis Cluster: a key belongs to one of 16384 slots (CRC16 of the key, or of its {hash tag}), each slot to one
// master. The client keeps the slot table from CLUSTER SLOTS, follows MOVED (and records it) and ASK (for one
// command, after ASKING), and reloads the table lazily when a redirect or an error says it changed.

const redisSlots = 16384

// crc16Table is CRC-16/XMODEM (polynomial 0x1021), the checksum Redis Cluster uses for key slots.
var crc16Table = makeCRC16Table()

func makeCRC16Table() []uint16 {
	t := make([]uint16, 256)
	for i := 0; i < 256; i++ {
		crc := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}

func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^s[i]]
	}
	return crc
}

// redisKeySlot is the cluster slot of key: only the part between the first '{' and the next '}' is hashed when it
// is not empty, so keys sharing a hash tag share a slot.
func redisKeySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % redisSlots)
}

// slotNode is the master of slot, "" when unknown. Called with cl.mu held.
func (cl *redisClient) slotNode(slot int) string {
	if cl.slots == nil {
		return ""
	}
	i := cl.slots[slot]
	if i == 0 {
		return ""
	}
	return cl.nodes[i-1]
}

// setSlot records a MOVED: slot now belongs to addr.
func (cl *redisClient) setSlot(slot int, addr string) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.slots == nil {
		cl.slots = make([]uint16, redisSlots)
	}
	cl.slots[slot] = cl.nodeIndex(addr)
}

// nodeIndex is 1 + addr's index in cl.nodes, added when new. Called with cl.mu held.
func (cl *redisClient) nodeIndex(addr string) uint16 {
	for i, n := range cl.nodes {
		if n == addr {
			return uint16(i + 1)
		}
	}
	cl.nodes = append(cl.nodes, addr)
	return uint16(len(cl.nodes))
}

// loadSlots asks the known masters, then the configured seeds, for CLUSTER SLOTS until one answers, and replaces
// the slot table with its answer.
func (cl *redisClient) loadSlots() error {
	cl.mu.Lock()
	candidates := append(append([]string{}, cl.nodes...), cl.o.addrs...)
	cl.mu.Unlock()
	var lastErr error
	tried := map[string]bool{}
	for _, addr := range candidates {
		if tried[addr] {
			continue
		}
		tried[addr] = true
		ranges, err := cl.clusterSlots(addr)
		if err == nil {
			cl.installSlots(ranges)
			return nil
		}
		lastErr = err
	}
	return lastErr
}

// redisSlotRange is one line of CLUSTER SLOTS: slots first..last served by master.
type redisSlotRange struct {
	first, last int
	master      string
}

// clusterSlots runs CLUSTER SLOTS on addr (a pooled connection) and parses the masters of its ranges.
func (cl *redisClient) clusterSlots(addr string) ([]redisSlotRange, error) {
	now := time.Now()
	c, err := cl.conn(addr, now.Add(cl.o.node.dialTimeout))
	if err != nil {
		return nil, err
	}
	rep, err := c.roundTrip([]string{"CLUSTER", "SLOTS"}, now.Add(cl.o.node.dialTimeout+cl.o.readTimeout))
	cl.putConn(c)
	if err != nil {
		return nil, err
	}
	return parseClusterSlots(rep, addr)
}

// parseClusterSlots reads a CLUSTER SLOTS reply: [[first, last, [host, port, id, ...], replicas...], ...]. An empty
// host (a node that does not know its address) means the host of addr, which answered.
func parseClusterSlots(rep redisReply, addr string) ([]redisSlotRange, error) {
	if rep.kind == '-' {
		return nil, errors.New("redis: CLUSTER SLOTS: " + rep.str)
	}
	if rep.kind != '*' || len(rep.elems) == 0 {
		return nil, errors.New("redis: CLUSTER SLOTS: no slot is served")
	}
	var out []redisSlotRange
	for _, e := range rep.elems {
		if e.kind != '*' || len(e.elems) < 3 || e.elems[0].kind != ':' || e.elems[1].kind != ':' {
			return nil, errRedisProtocol
		}
		m := e.elems[2]
		if m.kind != '*' || len(m.elems) < 2 || m.elems[1].kind != ':' {
			return nil, errRedisProtocol
		}
		first, last := int(e.elems[0].num), int(e.elems[1].num)
		if first < 0 || last < first || last >= redisSlots {
			return nil, errRedisProtocol
		}
		host := m.elems[0].str
		if host == "" || host == "?" {
			host, _, _ = net.SplitHostPort(addr)
		}
		out = append(out, redisSlotRange{first: first, last: last, master: net.JoinHostPort(host, strconv.FormatInt(m.elems[1].num, 10))})
	}
	return out, nil
}

// installSlots replaces the slot table.
func (cl *redisClient) installSlots(ranges []redisSlotRange) {
	slots := make([]uint16, redisSlots)
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.nodes = nil
	for _, r := range ranges {
		idx := cl.nodeIndex(r.master)
		for s := r.first; s <= r.last; s++ {
			slots[s] = idx
		}
	}
	cl.slots = slots
}
