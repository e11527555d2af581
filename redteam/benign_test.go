package redteam

import (
	"strings"
	"testing"

	"dlpguard/policy"
)

// TestBenign: look-alikes staff send every day must pass; each false hold
// teaches staff to distrust the guard.
func TestBenign(t *testing.T) {
	e, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	sig := "\n--\n千代田市 市民課 住民係\n〒100-0001 千代田市千代田1-1\nTEL 03-1234-5678 / FAX 03-1234-5679\nshimin@city.example.lg.jp\n"
	cases := []rtCase{
		{"dates", pass, raw(plain("日程", "会議は2026年4月1日（水）10:00から。締切 2026/04/15、令和8年3月31日。\n"+sig))},
		{"phone and postal", pass, raw(plain("連絡先", "お問い合わせは 03-1234-5678、携帯 090-1234-5678 まで。〒100-0001\n"+sig))},
		{"tracking number", pass, raw(plain("発送", "お問い合わせ番号 1234-5678-9012-3 の荷物を発送しました。\n"+sig))},
		{"url with 12-digit id", pass, raw(plain("資料", "https://example.jp/docs/123456789018/view を参照してください。\n"+sig))},
		{"message-id like", pass, raw(plain("Re: 資料", "> <20260401.123456789018@mail.example.jp> への返信\n"+sig))},
		{"secretary section", pass, raw(plain("秘書課からのお知らせ", "秘書課の山田です。秘密保持契約の件、重要性の高い案件です。\n"+sig))},
		{"handling briefing", pass, raw(plain("取扱注意事項の説明会", "取扱注意事項の説明会を開催します。\n"+sig))},
		{"amount with commas", pass, raw(plain("予算", "総額 123,456,789,018 円（参考値）\n"+sig))},
		{"list markers", pass, raw(plain("手順", "①申請書 ②住民票の写し ③本人確認書類\n"+sig))},
		{"scanner file name", pass, raw(withAttachment("スキャン", "text/plain", "202611251000.txt", []byte("スキャンしたメモです。\n")))},
		{"inline base64 image", pass, raw([]byte(hdr("写真") + "Content-Type: multipart/related; boundary=\"R\"\r\n\r\n" + multipartBody("R", "", "",
			part{"Content-Type: text/html; charset=UTF-8", `<p>写真です</p><img src="cid:img1">`},
			part{"Content-Type: image/png\r\nContent-ID: <img1>\r\nContent-Transfer-Encoding: base64", b64(append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 300)...))})))},
		{"pgp signed", pass, raw([]byte(hdr("署名付き") + "Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"S\"\r\n\r\n" +
			multipartBody("S", "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)", "",
				textPart("会議の件、承知しました。\n"+sig),
				part{"Content-Type: application/pgp-signature; name=\"signature.asc\"", "-----BEGIN PGP SIGNATURE-----\r\n\r\niQEzBAEBCAAdFiEEq1w2b3VqZ3x8Yk9aQm5hY2t1cGtleQAKCRBhY2t1cGtleQAA\r\nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdEfGhIjKlMnOpQrStUvWxYz\r\n=AbCd\r\n-----END PGP SIGNATURE-----\r\n"})))},
		{"pasted pgp key", pass, raw(plain("公開鍵", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF2aZm0BCADAbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMn\nOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEf\n-----END PGP PUBLIC KEY BLOCK-----\n"))},
		{"pasted hash lines", pass, raw(plain("チェックサム", "sha256:\n9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752\n"))},
		{"english words no spaces", pass, raw(plain("memo", "Pleasefindtheattachedminutesofthemeeting\nThankyouverymuchforyourcooperation\n"))},
		{"preamble boilerplate", pass, raw([]byte(hdr("ご連絡") + "Content-Type: multipart/mixed; boundary=\"BND\"\r\n\r\n" + multipartBody("BND", "This is a multi-part message in MIME format.", "", textPart("本文です。\n"+sig))))},
		{"outlook headers", pass, raw([]byte(strings.Replace(string(plain("ご連絡", "本文です。\n"+sig)), "MIME-Version",
			"Thread-Topic: ご連絡\r\nThread-Index: AdqEk2u8l3e1xIw2Q0Kq1x9Zy123456789018==\r\nX-MS-Has-Attach:\r\nX-MS-TNEF-Correlator:\r\nX-Mailer: Microsoft Outlook 16.0\r\nX-Priority: 3\r\nImportance: Normal\r\nX-Originating-IP: [192.0.2.10]\r\nMIME-Version", 1)))},
		{"thunderbird headers", pass, raw([]byte(strings.Replace(string(plain("ご連絡", "本文です。\n")), "MIME-Version",
			"User-Agent: Mozilla Thunderbird\r\nContent-Language: ja\r\nAutocrypt: addr=a@city.example.lg.jp; keydata=mQENBF123456789018\r\nMIME-Version", 1)))},
		{"utf-7 benign", pass, raw(single("ご連絡", "text/plain; charset=UTF-7", "7bit", "+MFMwkzBrMGEwbw-\r\n"))},
		// Decision: a 16-digit well-known test card number in an IT mail is
		// still a card number to the detector (Luhn-valid): it is held.
		// Staff use 4111-style numbers rarely; a policy permit is the way.
		{"test card number", hold, raw(plain("決済テスト", "テストカード 4111 1111 1111 1111 で確認してください。\n"))},
		// The default policy holds a valid 12-digit number next to 注文番号
		// (low confidence): mynumber-hold has no min_confidence. Reported to
		// the policy owner; kept here as the current behaviour.
		{"order number valid check digit", hold, raw(plain("注文", "注文番号 "+mn+" の件\n"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, e, c) })
	}
}
