# A minimal TURN client (RFC 5766 Allocate over UDP, long-term credentials), run on a lab host with
# the base image's python3: what turnutils_uclient does not print (the server's own error code on a
# refused allocation, the relayed address it hands out). Allocations are kept until all are made
# (quotas count live ones), then released (Refresh, LIFETIME 0).
# usage: python3 - SERVER PORT USER PASSWORD [USER PASSWORD...]   prints one JSON line per allocation, then "released N"
import hashlib, hmac, json, os, socket, struct, sys

COOKIE = 0x2112A442
ALLOCATE, REFRESH = 0x0003, 0x0004
A_USERNAME, A_MI, A_ERROR, A_REALM, A_NONCE, A_RELAYED, A_LIFETIME, A_TRANSPORT = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015, 0x0016, 0x000D, 0x0019


def attr(t, v):
    return struct.pack('!HH', t, len(v)) + v + b'\0' * (-len(v) % 4)


def message(kind, tid, attrs, key=None):
    body = b''.join(attr(t, v) for t, v in attrs)
    if key is not None:
        # MESSAGE-INTEGRITY covers the header with a length that already counts it (24 bytes).
        head = struct.pack('!HHI', kind, len(body) + 24, COOKIE) + tid
        body += attr(A_MI, hmac.new(key, head + body, hashlib.sha1).digest())
    return struct.pack('!HHI', kind, len(body), COOKIE) + tid + body


def parse(data):
    kind, length = struct.unpack('!HH', data[:4])
    attrs, i = {}, 20
    while i < 20 + length:
        t, n = struct.unpack('!HH', data[i:i + 4])
        attrs.setdefault(t, data[i + 4:i + 4 + n])
        i += 4 + n + (-n % 4)
    return kind, attrs


def ask(sock, kind, attrs, key=None):
    tid = os.urandom(12)
    msg = message(kind, tid, attrs, key)
    for _ in range(5):
        sock.send(msg)
        try:
            while True:
                data = sock.recv(2048)
                if data[8:20] == tid:
                    return parse(data)
        except socket.timeout:
            continue
    raise SystemExit('no answer from the TURN server')


def error_of(attrs):
    v = attrs.get(A_ERROR)
    return ((v[2] & 7) * 100 + v[3], v[4:].decode('utf-8', 'replace')) if v else (0, '')


def relayed(v):
    port = struct.unpack('!H', v[2:4])[0] ^ (COOKIE >> 16)
    ip = struct.unpack('!I', v[4:8])[0] ^ COOKIE
    return '%s:%d' % (socket.inet_ntoa(struct.pack('!I', ip)), port)


server, port, creds = sys.argv[1], int(sys.argv[2]), list(zip(sys.argv[3::2], sys.argv[4::2]))
transport = struct.pack('!B3x', 17)
live = []
for user, password in creds:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    sock.connect((server, port))
    # The first Allocate, without credentials, is answered 401 with the realm and a nonce.
    kind, a = ask(sock, ALLOCATE, [(A_TRANSPORT, transport)])
    challenge, _ = error_of(a)
    realm, nonce = a.get(A_REALM, b''), a.get(A_NONCE, b'')
    key = hashlib.md5(user.encode() + b':' + realm + b':' + password.encode()).digest()
    auth = [(A_USERNAME, user.encode()), (A_REALM, realm), (A_NONCE, nonce)]
    kind, a = ask(sock, ALLOCATE, [(A_TRANSPORT, transport)] + auth, key)
    out = {'challenge': challenge, 'realm': realm.decode()}
    if kind == 0x0103:
        out.update(code=200, relayed=relayed(a[A_RELAYED]))
        live.append((sock, auth, key))
    else:
        code, reason = error_of(a)
        out.update(code=code, reason=reason)
    print(json.dumps(out), flush=True)
for sock, auth, key in live:
    ask(sock, REFRESH, [(A_LIFETIME, struct.pack('!I', 0))] + auth, key)
print('released %d' % len(live))
