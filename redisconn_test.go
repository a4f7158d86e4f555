package descopeoidc

import (
	"bufio"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parseRESP(s string) (redisReply, error) {
	return readRedisReply(bufio.NewReader(strings.NewReader(s)), 0)
}

func TestReadRedisReply(t *testing.T) {
	for in, want := range map[string]redisReply{
		"+OK\r\n":           {kind: '+', str: "OK"},
		"+\r\n":             {kind: '+'},
		"-ERR wrong\r\n":    {kind: '-', str: "ERR wrong"},
		":-42\r\n":          {kind: ':', num: -42},
		"$5\r\nhe\r\no\r\n": {kind: '$', str: "he\r\no"},
		"$0\r\n\r\n":        {kind: '$'},
		"$-1\r\n":           {kind: '$', null: true},
		"*-1\r\n":           {kind: '*', null: true},
		"*0\r\n":            {kind: '*', elems: []redisReply{}},
		"*2\r\n$1\r\na\r\n*1\r\n:1\r\n": {kind: '*', elems: []redisReply{{kind: '$', str: "a"},
			{kind: '*', elems: []redisReply{{kind: ':', num: 1}}}}},
	} {
		got, err := parseRESP(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %+v, want %+v", in, got, want)
		}
	}
}

// TestReadRedisReplyRefusesMalformed: malformed or oversized replies are protocol errors (the connection is then
// dropped), never a huge allocation or a hang.
func TestReadRedisReplyRefusesMalformed(t *testing.T) {
	deep := strings.Repeat("*1\r\n", redisMaxDepth+1) + ":1\r\n"
	for _, in := range []string{
		"?x\r\n", "+OK\n", "\r\n", ":12a\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "$99999999999\r\n",
		"*-2\r\n", "*9999999\r\n", deep, "+" + strings.Repeat("a", redisMaxLine) + "\r\n",
	} {
		if _, err := parseRESP(in); err != errRedisProtocol {
			t.Errorf("%.40q: %v, want errRedisProtocol", in, err)
		}
	}
	// A truncated reply is an I/O error, not a value.
	for _, in := range []string{"$5\r\nab", "*3\r\n:1\r\n", "+OK"} {
		if _, err := parseRESP(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	// An array announcing many elements allocates for those that arrive, not for the announced count.
	allocs := testing.AllocsPerRun(5, func() { _, _ = parseRESP("*65536\r\n:1\r\n") })
	if allocs > 20 {
		t.Errorf("a truncated array of 65536 elements cost %v allocations", allocs)
	}
}

// TestRedisConnWrite: a command goes out as a RESP array of bulk strings (binary-safe), and a write error marks the
// connection broken.
func TestRedisConnWrite(t *testing.T) {
	client, server := net.Pipe()
	c := &redisConn{nc: client, rd: bufio.NewReader(client)}
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 64)
		n, _ := io.ReadAtLeast(server, b, 36)
		got <- string(b[:n])
	}()
	if err := c.write([]string{"SET", "k", "a\r\nb", ""}, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if s, want := <-got, "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$0\r\n\r\n"; s != want {
		t.Errorf("wrote %q, want %q", s, want)
	}
	_ = server.Close()
	if err := c.write([]string{"PING"}, time.Now().Add(time.Second)); err == nil || !c.broken {
		t.Errorf("write to a closed peer: %v, broken=%v", err, c.broken)
	}
}

// TestRedisConnReadTimeout: a server that does not answer costs the read timeout, then the connection is broken.
func TestRedisConnReadTimeout(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	go func() { _, _ = io.Copy(io.Discard, server) }()
	c := &redisConn{nc: client, rd: bufio.NewReader(client)}
	start := time.Now()
	_, err := c.roundTrip([]string{"PING"}, time.Now().Add(100*time.Millisecond))
	if err == nil || !c.broken {
		t.Fatalf("no reply: %v, broken=%v", err, c.broken)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the read deadline was not applied: %v", d)
	}
}
