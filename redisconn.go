package descopeoidc

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"time"
)

// One connection to a Redis server speaking RESP2: commands are written as arrays of bulk strings, replies are read
// into redisReply values. Standard library only, no goroutine: the caller sets a deadline for each command, and a
// connection that saw any I/O or protocol error is marked broken and never reused.

const (
	redisMaxBulk  = 16 << 20 // a reply's bulk string larger than this is a protocol error (the store's values are KB)
	redisMaxElems = 1 << 16  // elements of one array reply
	redisMaxDepth = 6        // nesting of array replies (CLUSTER SLOTS is 3 deep)
	redisMaxLine  = 64 << 10 // a status, error or length line
	redisBufKeep  = 64 << 10 // a write buffer grown past this by a large command is dropped after the command
)

var errRedisProtocol = errors.New("redis: protocol error in reply")

// redisReply is one RESP2 reply. kind is its type byte: '+' status, '-' error, ':' integer, '$' bulk string,
// '*' array. null is set for a null bulk string or a null array.
type redisReply struct {
	kind  byte
	null  bool
	str   string
	num   int64
	elems []redisReply
}

// redisConn is one connection, owned by one caller at a time (the pool hands it out).
type redisConn struct {
	nc     net.Conn
	rd     *bufio.Reader
	buf    []byte
	addr   string
	idleAt time.Time // when it was returned to the pool
	broken bool      // an I/O or protocol error: the stream position is unknown, close it
}

// redisDialer is what a dial needs: timeouts, TLS, and the credentials and database to select.
type redisDialer struct {
	dialTimeout time.Duration
	tls         *tls.Config
	username    string
	password    string
	db          int
}

// dial connects to addr, completes the TLS handshake, authenticates and selects the database, all within the dial
// timeout.
func (d *redisDialer) dial(addr string) (*redisConn, error) {
	nd := net.Dialer{Timeout: d.dialTimeout}
	nc, err := nd.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(d.dialTimeout)
	if d.tls != nil {
		cfg := d.tls.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		_ = tc.SetDeadline(deadline)
		if err := tc.Handshake(); err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	c := &redisConn{nc: nc, rd: bufio.NewReaderSize(nc, 16<<10), addr: addr}
	if err := d.hello(c, deadline); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// hello authenticates (AUTH with ACL user or the default user's password) and selects the database.
func (d *redisDialer) hello(c *redisConn, deadline time.Time) error {
	if d.password != "" {
		args := []string{"AUTH", d.password}
		if d.username != "" {
			args = []string{"AUTH", d.username, d.password}
		}
		rep, err := c.roundTrip(args, deadline)
		if err != nil {
			return err
		}
		if rep.kind == '-' {
			return errors.New("redis: AUTH refused: " + rep.str)
		}
	}
	if d.db != 0 {
		rep, err := c.roundTrip([]string{"SELECT", strconv.Itoa(d.db)}, deadline)
		if err != nil {
			return err
		}
		if rep.kind == '-' {
			return errors.New("redis: SELECT refused: " + rep.str)
		}
	}
	return nil
}

func (c *redisConn) close() {
	c.broken = true
	_ = c.nc.Close()
}

// roundTrip writes one command and reads its reply, both before deadline. A server error is a reply of kind '-',
// not an error: the caller decides (redirect, retry, or fail).
func (c *redisConn) roundTrip(args []string, deadline time.Time) (redisReply, error) {
	if err := c.write(args, deadline); err != nil {
		return redisReply{}, err
	}
	return c.read(deadline)
}

// write sends one command as a RESP array of bulk strings.
func (c *redisConn) write(args []string, deadline time.Time) error {
	b := c.buf[:0]
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	if cap(b) <= redisBufKeep {
		c.buf = b
	} else {
		c.buf = nil
	}
	_ = c.nc.SetWriteDeadline(deadline)
	if _, err := c.nc.Write(b); err != nil {
		c.broken = true
		return err
	}
	return nil
}

// read reads one reply.
func (c *redisConn) read(deadline time.Time) (redisReply, error) {
	_ = c.nc.SetReadDeadline(deadline)
	rep, err := readRedisReply(c.rd, 0)
	if err != nil {
		c.broken = true
	}
	return rep, err
}

// readRedisReply parses one RESP2 reply from rd; depth bounds the nesting of arrays.
func readRedisReply(rd *bufio.Reader, depth int) (redisReply, error) {
	line, err := readRedisLine(rd)
	if err != nil {
		return redisReply{}, err
	}
	kind := line[0]
	body := line[1:]
	switch kind {
	case '+', '-':
		return redisReply{kind: kind, str: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return redisReply{}, errRedisProtocol
		}
		return redisReply{kind: ':', num: n}, nil
	case '$':
		return readRedisBulk(rd, body)
	case '*':
		return readRedisArray(rd, body, depth)
	}
	return redisReply{}, errRedisProtocol
}

// readRedisLine reads a line ending in CRLF and returns it without the CRLF; it has at least the type byte.
func readRedisLine(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", errRedisProtocol
	}
	if err != nil {
		return "", err
	}
	n := len(line)
	if n < 3 || line[n-2] != '\r' || n > redisMaxLine {
		return "", errRedisProtocol
	}
	return string(line[:n-2]), nil
}

func readRedisBulk(rd *bufio.Reader, body string) (redisReply, error) {
	size, err := strconv.Atoi(body)
	if err != nil || size < -1 || size > redisMaxBulk {
		return redisReply{}, errRedisProtocol
	}
	if size == -1 {
		return redisReply{kind: '$', null: true}, nil
	}
	data := make([]byte, size+2)
	if _, err := io.ReadFull(rd, data); err != nil {
		return redisReply{}, err
	}
	if data[size] != '\r' || data[size+1] != '\n' {
		return redisReply{}, errRedisProtocol
	}
	return redisReply{kind: '$', str: string(data[:size])}, nil
}

func readRedisArray(rd *bufio.Reader, body string, depth int) (redisReply, error) {
	count, err := strconv.Atoi(body)
	if err != nil || count < -1 || count > redisMaxElems || depth >= redisMaxDepth {
		return redisReply{}, errRedisProtocol
	}
	if count == -1 {
		return redisReply{kind: '*', null: true}, nil
	}
	alloc := count
	if alloc > 64 {
		alloc = 64 // grown as elements really arrive: a lying count costs no memory
	}
	elems := make([]redisReply, 0, alloc)
	for i := 0; i < count; i++ {
		e, err := readRedisReply(rd, depth+1)
		if err != nil {
			return redisReply{}, err
		}
		elems = append(elems, e)
	}
	return redisReply{kind: '*', elems: elems}, nil
}
