#!/usr/bin/env python3
"""Generates the messages with encrypted content pasted into a text body
(issue 12): gpg's ASCII armour, as sent and quoted in a reply, and S/MIME
enveloped data made by openssl, PEM-armoured and as a bare base64 block.
Run from this folder: python3 gen_pasted.py (needs gpg and openssl). The
outputs are committed; the tests never run this script. Kept apart from
gen.py so that regenerating these does not change the other files."""
import base64, os, subprocess, tempfile

HDR = ('From: "Test" <a@city.example.lg.jp>\r\nTo: b@example.com\r\n'
       'Message-ID: <pasted@city.example.lg.jp>\r\nDate: Mon, 1 Jun 2026 09:00:00 +0900\r\n'
       'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n')

def w(name, subject, body):
    with open(name, 'wb') as f:
        f.write((HDR + 'Subject: ' + subject + '\r\n\r\n').encode() + body.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n'))

with tempfile.TemporaryDirectory() as d:
    src = os.path.join(d, 'm.txt')
    open(src, 'wb').write('個人番号 123456789018\n氏名 山田太郎\n'.encode())
    out = os.path.join(d, 'm.asc')
    subprocess.run(['gpg', '--batch', '--homedir', d, '--pinentry-mode', 'loopback', '--passphrase', 'x',
                    '--symmetric', '--armor', '-o', out, src], check=True, capture_output=True)
    asc = open(out, 'rb').read()
    key, crt = os.path.join(d, 'k.pem'), os.path.join(d, 'c.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=test', '-days', '3650',
                    '-keyout', key, '-out', crt], check=True, capture_output=True)
    pem = subprocess.run(['openssl', 'cms', '-encrypt', '-in', src, '-outform', 'PEM', '-aes256', crt],
                         check=True, capture_output=True).stdout
    der = subprocess.run(['openssl', 'cms', '-encrypt', '-in', src, '-outform', 'DER', '-aes256', crt],
                         check=True, capture_output=True).stdout

intro = 'お世話になっております。下記の通り送ります。\n\n'.encode()
w('pasted_pgp.eml', 'pasted pgp', intro + asc + '\nよろしくお願いします。\n'.encode())
w('pasted_pgp_quoted.eml', 'Re: pasted pgp', '承知しました。\n\n> 下記の通り送ります。\n'.encode() +
  b''.join(b'> ' + l + b'\n' for l in asc.splitlines()))
w('pasted_pgp_cut.eml', 'pasted pgp cut', intro + b'\n'.join(asc.splitlines()[:4]) + b'\n')
w('pasted_smime_pem.eml', 'pasted smime', intro + pem)
s = base64.b64encode(der).decode()
w('pasted_smime_bare.eml', 'pasted smime bare', intro + '\n'.join(s[i:i+64] for i in range(0, len(s), 64)).encode() + b'\n')
