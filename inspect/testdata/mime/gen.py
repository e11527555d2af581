#!/usr/bin/env python3
"""Generates the hand-made MIME test messages of inspect (byte-exact, so
that charsets, broken encodings and malformed structure are what the test
says). Run from this folder: python3 gen.py. Needs openssl and gpg for the
S/MIME and OpenPGP cases. The outputs are committed; the test never runs
this script. libreoffice.rtf beside it is LibreOffice's own output:
  printf '【秘】個人番号 1234 5678 9012\n氏名 山田太郎\n' > rtfsrc.txt
  soffice --headless --convert-to rtf:"Rich Text Format" rtfsrc.txt"""
import base64, binascii, os, quopri, subprocess, tempfile

def w(name, data):
    if isinstance(data, str):
        data = data.encode('ascii')
    with open(name, 'wb') as f:
        f.write(data)

def b64(b):
    s = base64.b64encode(b).decode()
    return '\r\n'.join(s[i:i+76] for i in range(0, len(s), 76))

def ew(text, cs, enc='B'):
    b = text.encode(cs) if isinstance(text, str) else text
    if enc == 'B':
        return '=?%s?B?%s?=' % (cs, base64.b64encode(b).decode())
    q = ''.join(chr(c) if (48 <= c < 127 and c not in (61, 63, 95)) else '=%02X' % c for c in b)
    return '=?%s?Q?%s?=' % (cs, q)

HDR = ('From: "Test" <a@city.example.lg.jp>\r\nTo: b@example.com\r\n'
       'Message-ID: <1234567890123456@city.example.lg.jp>\r\nDate: Mon, 1 Jun 2026 09:00:00 +0900\r\n'
       'MIME-Version: 1.0\r\n')

def single(name, subject, ctype, cte, body):
    head = HDR + 'Subject: %s\r\nContent-Type: %s\r\n' % (subject, ctype)
    if cte:
        head += 'Content-Transfer-Encoding: %s\r\n' % cte
    w(name, head.encode() + b'\r\n' + body)

# --- charsets ---
sj = '個人番号 1234 5678 9012 ①Ⅰ㈱髙 テスト\r\n'
single('cs_sjis_8bit.eml', 'sjis', 'text/plain; charset=Shift_JIS', '8bit', sj.encode('cp932'))
single('cs_cp932_qp.eml', 'cp932', 'text/plain; charset="cp932"', 'quoted-printable',
       quopri.encodestring(sj.encode('cp932')).replace(b'\n', b'\r\n'))
single('cs_ms932_b64.eml', 'ms932', 'text/plain; charset=MS932', 'base64', b64(sj.encode('cp932')).encode())
# CP50220: NEC row 13 (①) inside ISO-2022-JP, half-width katakana as ESC ( I.
iso = b'\x1b$B8D?MHV9f\x1b(B 1234 5678 9012 \x1b$B-!-5\x1b(B \x1b(I11\x1b(B\r\n'
single('cs_cp50220.eml', 'cp50220', 'text/plain; charset=CP50220', '7bit', iso)
single('cs_iso2022_nolabel.eml', 'nolabel', 'text/plain', '7bit', iso)
single('cs_eucjp.eml', 'eucjp', 'text/plain; charset=eucjp', '8bit', '個人番号 1234 5678 9012 東京都\r\n'.encode('euc_jp'))
single('cs_utf8_bom.eml', 'bom', 'text/plain; charset=utf-8', 'base64', b64(b'\xef\xbb\xbf' + '個人番号 1234 5678 9012\r\n'.encode()).encode())
single('cs_mislabel.eml', 'mislabel', 'text/plain; charset=iso-2022-jp', '8bit', sj.encode('cp932'))
single('cs_ascii_is_iso2022.eml', 'ascii label', 'text/plain; charset=us-ascii', '7bit', iso)
single('cs_latin1.eml', 'latin1', 'text/plain; charset=iso-8859-1', 'quoted-printable', b'caf=E9 1234 5678 9012\r\n')
single('cs_utf8_invalid.eml', 'invalid', 'text/plain; charset=utf-8', '8bit', b'ok \xff\xfe bad 1234 5678 9012\r\n')

def mixed(name, subject, parts, boundary='b1', extra_hdr='', final=True):
    out = (HDR + 'Subject: %s\r\n%sContent-Type: multipart/mixed; boundary="%s"\r\n\r\nThis is a multi-part message in MIME format.\r\n' % (subject, extra_hdr, boundary)).encode()
    for hdr, body in parts:
        out += ('--%s\r\n' % boundary).encode() + hdr.encode() + b'\r\n' + body + b'\r\n'
    if final:
        out += ('--%s--\r\n' % boundary).encode()
    w(name, out)

TXT = ('Content-Type: text/plain; charset=utf-8\r\n', 'see attachment\r\n'.encode())
csv_sjis = '氏名,個人番号\r\n山田\u3000太郎,123456789012\r\n'.encode('cp932')
mixed('att_utf16.eml', 'utf16', [TXT, (
    'Content-Type: application/octet-stream; name="u16.txt"\r\nContent-Disposition: attachment; filename="u16.txt"\r\nContent-Transfer-Encoding: base64\r\n',
    b64(b'\xff\xfe' + '個人番号 1234 5678 9012\r\n'.encode('utf-16-le')).encode())])
mixed('att_csv_as_dat.eml', 'dat', [TXT, (
    'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="data.dat"\r\nContent-Transfer-Encoding: base64\r\n',
    b64(csv_sjis * 3).encode())])

# --- headers and file names ---
# ISO-2022-JP split mid-shift-state: the first word does not return to ASCII.
full = '個人番号のお知らせ'.encode('iso2022_jp')  # ESC $ B ... ESC ( B
cut = 3 + 8  # ESC $ B + 4 characters
w1 = base64.b64encode(full[:cut]).decode()
w2 = base64.b64encode(full[cut:]).decode()
hdr_split = ('From: =?ISO-2022-JP?B?%s?=\r\n =?ISO-2022-JP?B?%s?= <x@example.com>, broken<<@@, "Plain Name" <p@example.com>\r\n'
             % (base64.b64encode('山田'.encode('iso2022_jp')[:5]).decode(), base64.b64encode('山田'.encode('iso2022_jp')[5:]).decode()))
w('hdr_split_iso2022.eml', (
    hdr_split + 'To: team: c@example.com, %s <d@example.com>;\r\nCc: e@example.com (%s)\r\n' % (ew('鈴木', 'utf-8', 'Q'), ew('佐藤', 'iso-2022-jp')) +
    'Subject: =?ISO-2022-JP?B?%s?=\r\n =?ISO-2022-JP?B?%s?=\r\n' % (w1, w2) +
    'Message-ID: <99998888777766665555@example.com>\r\nReferences: <123456789012@example.com>\r\n'
    'X-Label: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n' % ew('重要性Ⅱ', 'utf-8')).encode())
# Subject with raw 8-bit Shift_JIS and a UTF-8 word split mid-character.
u = '取扱注意'.encode()
w('hdr_raw8bit.eml', HDR.encode() + b'Subject: ' + '【秘】'.encode('cp932') + b' ' +
  ('=?UTF-8?B?%s?= =?UTF-8?B?%s?=' % (base64.b64encode(u[:4]).decode(), base64.b64encode(u[4:]).decode())).encode() +
  b'\r\nContent-Type: text/plain\r\n\r\nbody\r\n')

mixed('fn_rfc2231_sjis.eml', 'rfc2231', [TXT, (
    "Content-Type: text/csv\r\nContent-Disposition: attachment;\r\n filename*=shift_jis''%s\r\nContent-Transfer-Encoding: base64\r\n"
    % ''.join('%%%02X' % c for c in '名簿.csv'.encode('cp932')), b64(csv_sjis).encode()), (
    "Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment;\r\n filename*0*=iso-2022-jp''%s;\r\n filename*1*=%s\r\n"
    % (''.join('%%%02X' % c for c in '会議'.encode('iso2022_jp')[:7]), ''.join('%%%02X' % c for c in '会議'.encode('iso2022_jp')[7:]) + '.txt'),
    '議事'.encode())])
mixed('fn_raw_sjis.eml', 'raw', [TXT, (
    'Content-Type: text/plain; name="x"\r\nContent-Disposition: attachment; filename="', b'')])
raw_name = '表ソ一覧.csv'.encode('cp932')  # 表 and ソ end in 0x5C
with open('fn_raw_sjis.eml', 'wb') as f:
    f.write((HDR + 'Subject: raw\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n').encode() +
            TXT[0].encode() + b'\r\n' + TXT[1] + b'\r\n--b1\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename="' +
            raw_name + b'"\r\n\r\n' + csv_sjis + b'\r\n--b1--\r\n')
mixed('fn_rfc2047_quoted.eml', 'rfc2047 name', [TXT, (
    'Content-Type: application/octet-stream; name="%s"\r\nContent-Disposition: attachment; filename="%s"\r\nContent-Transfer-Encoding: base64\r\n'
    % (ew('【秘】名簿.txt', 'iso-2022-jp'), ew('【秘】名簿.txt', 'iso-2022-jp')), b64('中身 1234\r\n'.encode()).encode())])

# --- HTML and alternatives ---
html = ('<html><head><style>.x{color:red} p{margin:0}</style><title>題</title></head><body>'
        '<p>見える&amp;本文 &#x500B;人番号</p><div style="display:none">隠し 111122223333</div>'
        '<img src="cid:a" alt="代替テキスト"><a title="タイトル属性">link</a>'
        '<table><tr><td>氏名</td><td>番号</td></tr><tr><td>山田</td><td>123456789012</td></tr></table>'
        '<!-- comment 999988887777 --><script>var s="スクリプト";</script></body></html>')
w('html_alt.eml', (HDR + 'Subject: html\r\nContent-Type: multipart/alternative; boundary="alt"\r\n\r\n'
   '--alt\r\nContent-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: 7bit\r\n\r\n').encode() +
  'テキスト版のみ\r\n'.encode('iso2022_jp') +
  b'\r\n--alt\r\nContent-Type: text/html; charset=shift_jis\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
  quopri.encodestring(html.encode('cp932')).replace(b'\n', b'\r\n') + b'\r\n--alt--\r\n')

# --- nested messages ---
inner = ('From: x@example.com\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="in"\r\n\r\n'
         '--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n転送本文 個人番号 123456789012\r\n'
         '--in\r\nContent-Type: text/csv; charset=shift_jis\r\nContent-Disposition: attachment; filename="inner.csv"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--in--\r\n'
         % (ew('【秘】転送件名', 'utf-8'), b64(csv_sjis)))
mixed('nested_rfc822.eml', 'fwd', [TXT,
    ('Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="fwd.eml"\r\n', inner.encode()),
    ('Content-Type: message/rfc822\r\n', inner.replace('inner.csv', 'inline.csv').encode())])

# --- encryption and signatures ---
w('pgp_mime.eml', (HDR + 'Subject: pgp\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="enc"\r\n\r\n'
   '--enc\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n'
   '--enc\r\nContent-Type: application/octet-stream; name="encrypted.asc"\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA1234\r\n-----END PGP MESSAGE-----\r\n'
   '--enc--\r\n').encode())
with tempfile.TemporaryDirectory() as d:
    src = os.path.join(d, 'm.txt')
    open(src, 'wb').write('個人番号 123456789012\n'.encode())
    gpgout = os.path.join(d, 'm.gpg')
    subprocess.run(['gpg', '--batch', '--homedir', d, '--pinentry-mode', 'loopback', '--passphrase', 'x',
                    '--symmetric', '-o', gpgout, src], check=True, capture_output=True)
    gbin = open(gpgout, 'rb').read()
    subprocess.run(['gpg', '--batch', '--homedir', d, '--pinentry-mode', 'loopback', '--passphrase', 'x',
                    '--symmetric', '--armor', '-o', gpgout + '.asc', src], check=True, capture_output=True)
    gasc = open(gpgout + '.asc', 'rb').read()
    key, crt = os.path.join(d, 'k.pem'), os.path.join(d, 'c.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=test', '-days', '3650',
                    '-keyout', key, '-out', crt], check=True, capture_output=True)
    inner_mime = os.path.join(d, 'inner.txt')
    open(inner_mime, 'wb').write(b'Content-Type: text/plain; charset=utf-8\r\n\r\n' + '署名本文 個人番号 123456789012\r\n'.encode())
    signed = subprocess.run(['openssl', 'smime', '-sign', '-nodetach', '-binary', '-in', inner_mime, '-signer', crt, '-inkey', key,
                             '-outform', 'DER'], check=True, capture_output=True).stdout
    detached = subprocess.run(['openssl', 'smime', '-sign', '-in', inner_mime, '-signer', crt, '-inkey', key],
                              check=True, capture_output=True).stdout
mixed('pgp_attachments.eml', 'gpg files', [TXT,
    ('Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="data.gpg"\r\nContent-Transfer-Encoding: base64\r\n', b64(gbin).encode()),
    ('Content-Type: text/plain\r\nContent-Disposition: attachment; filename="note.asc"\r\n', gasc.replace(b'\n', b'\r\n')),
    ('Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="renamed.txt"\r\nContent-Transfer-Encoding: base64\r\n', b64(gbin).encode())])
w('smime_opaque_signed.eml', (HDR + 'Subject: smime signed\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
   'Content-Disposition: attachment; filename="smime.p7m"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(signed) + '\r\n').encode())
w('smime_detached_signed.eml', HDR.encode() + b'Subject: smime detached\r\n' + detached.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n'))

# --- malformed ---
w('bad_no_final_boundary.eml', (HDR + 'Subject: trunc\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
   '--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n本文 123456789012\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsecond part').encode())
w('bad_crcrlf.eml', b'From: a@example.com\r\r\nSubject: =?UTF-8?B?' + base64.b64encode('件名'.encode()) + b'?=\r\r\nContent-Type: text/plain; charset=utf-8\r\r\n\r\r\n' + '本文 123456789012\r\r\n'.encode())
w('bad_nul.eml', b'From: a@example.com\r\nSubject: nul\x00here\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' + '本文\x00 123456789012\r\n'.encode())
w('bad_headerless_part.eml', (HDR + 'Subject: headerless\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n'
   '--b1\r\n本文だけのパート 123456789012\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nこの行は本文\r\n--b1--\r\n').encode())
w('bad_boundary_missing.eml', (HDR + 'Subject: nobound\r\nContent-Type: multipart/mixed; boundary="never"\r\n\r\n'
   '本文 123456789012\r\n').encode())
w('bad_base64.eml', (HDR + 'Subject: b64\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n').encode() +
  (b64('本文 123456789012\r\n'.encode())[:12] + '!!**' + b64('本文 123456789012\r\n'.encode())[12:-1]).encode() + b'\r\n')
w('bad_qp.eml', (HDR + 'Subject: qp\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
   'a=b =E6=9C=AC=E6=96=87 123456789012 =ZZ soft=\r\nbreak\r\n').encode())
w('bad_no_content_type.eml', b'From: a@example.com\r\nSubject: none\r\n\r\n' + '本文 123456789012\r\n'.encode('cp932'))
w('bad_ctype.eml', (HDR + 'Subject: ctype\r\nContent-Type: ;;; garbage\r\n\r\n本文\r\n').encode())

# --- format=flowed with DelSp=yes, broken mid-word as Japanese clients do ---
single('flowed_delsp.eml', 'flowed', 'text/plain; charset=utf-8; format=flowed; delsp=yes', '8bit',
       '本人の個人番 \r\n号は1234 5678 \r\n9012です。\r\n> quoted \r\n-- \r\nsig\r\n'.encode())

# --- uuencode pasted into a body ---
def uu(name, data):
    out = 'begin 644 %s\r\n' % name
    for i in range(0, len(data), 45):
        out += binascii.b2a_uu(data[i:i+45]).decode().rstrip('\n') + '\r\n'
    return out + '`\r\nend\r\n'
single('uuencode.eml', 'uu', 'text/plain; charset=utf-8', '8bit',
       ('see below\r\n' + uu('roster.csv', csv_sjis * 2) + 'thanks\r\n').encode())
print('ok')
