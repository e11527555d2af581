package classify

// Detector indexes for the built-in detectors.
const (
	dMyNumber = iota
	dCorporate
	dResident
	dPension
	dDL
	dPassport
	dCard
	dBank
	dPhone
	dPostal
	dAddress
	dBirth
	dEmail
	dPersonal
	dMarking
	nDet
)

// detNames returns the contract names (docs/contracts.md) by index.
func detNames() [nDet]string {
	return [nDet]string{MyNumber, CorporateNumber, ResidentCode, PensionNumber,
		DriversLicense, Passport, CreditCard, BankAccount, PhoneNumber, PostalCode,
		AddressDet, BirthDate, EmailAddress, PersonalList, Marking}
}

// Label classes of table headers and nearby words (bits).
const (
	labName uint32 = 1 << iota
	labAddress
	labPhone
	labBirth
	labGenericNumber // the bare word 番号: weak, and not when part of a longer compound
	labPostal
)

// ticketWords label the numbers of tickets, orders, parcels and files
// (受付番号 4-6 near 年金 is a ticket, not a pension number): negative
// keywords of every numeric detector besides My Number's own longer list.
func ticketWords() []string {
	return []string{"注文番号", "受付番号", "伝票番号", "問合せ番号", "問い合わせ番号", "お問い合わせ番号",
		"問合番号", "整理番号", "管理番号", "予約番号", "追跡番号", "照会番号", "発注番号", "案件番号",
		"請求番号", "お客様番号", "顧客番号", "会員番号", "受付no", "注文no", "伝票no", "tracking"}
}

// defaultSettings are the built-in tuning of each detector (detectors.md).
func defaultSettings(d int) DetectorSettings {
	ds := builtinSettings(d)
	switch d {
	case dCorporate, dResident, dPension, dDL, dPassport, dCard, dBank:
		ds.NegativeKeywords = ticketWords()
	}
	return ds
}

func builtinSettings(d int) DetectorSettings {
	switch d {
	case dMyNumber:
		return DetectorSettings{
			Keywords: []string{"個人番号", "マイナンバー", "my number", "mynumber", "番号",
				"共通番号", "個人識別番号", "通知カード", "特定個人情報", "番号確認", "個人番号カード"},
			NegativeKeywords: []string{"注文番号", "受付番号", "伝票番号", "問合せ番号", "問い合わせ番号",
				"問合番号", "整理番号", "管理番号", "会員番号", "お客様番号", "顧客番号", "電話番号",
				"郵便番号", "登録番号", "請求番号", "契約番号", "予約番号", "追跡番号", "注文no",
				"受付no", "社員番号", "職員番号", "製造番号", "証券番号", "文書番号", "受験番号",
				"学籍番号", "認証番号", "口座番号", "伝票no", "invoice", "order", "tracking",
				"照会番号", "お問い合わせ番号", "発注番号", "案件番号"},
			Window: 300,
		}
	case dCorporate:
		return DetectorSettings{Keywords: []string{"法人番号", "corporate number", "適格請求書", "指定通知書", "登録番号"}, Window: 300}
	case dResident:
		return DetectorSettings{Keywords: []string{"住民票コード", "住基", "住民基本台帳", "resident registration"}, Window: 100}
	case dPension:
		return DetectorSettings{Keywords: []string{"基礎年金番号", "年金手帳", "年金番号", "基礎年金", "pension"}, Window: 100}
	case dDL:
		return DetectorSettings{Keywords: []string{"運転免許証", "運転免許", "免許証", "免許番号", "免許",
			"driver's license", "driver license", "drivers license", "driver's licence", "運転経歴証明書"}, Window: 100}
	case dPassport:
		return DetectorSettings{Keywords: []string{"パスポート", "旅券", "passport"}, Window: 100}
	case dCard:
		return DetectorSettings{Keywords: []string{"クレジットカード", "クレジット", "クレカ", "カード番号",
			"カードナンバー", "有効期限", "card number", "credit card", "card no", "visa", "mastercard",
			"jcb", "amex", "american express", "アメックス", "ダイナース", "デビットカード",
			"セキュリティコード", "expiration", "expiry", "キャッシュカード", "カード名義"}, Window: 100}
	case dBank:
		return DetectorSettings{Keywords: []string{"口座番号", "口座", "普通", "当座", "貯蓄", "預金",
			"店番", "account no", "bank account"}, Window: 30}
	case dPhone:
		return DetectorSettings{Keywords: []string{"電話", "tel", "携帯", "fax", "℡", "phone", "連絡先"}, Window: 20}
	case dPostal:
		return DetectorSettings{Keywords: []string{"〒", "郵便番号", "zip"}, Window: 12}
	case dAddress:
		return DetectorSettings{Keywords: []string{"住所", "所在地", "現住所", "address"}, Window: 40}
	case dBirth:
		return DetectorSettings{Keywords: []string{"生年月日", "誕生日", "生まれ", "出生", "dob",
			"date of birth", "birth", "年齢", "歳"}, Window: 30}
	case dPersonal:
		return DetectorSettings{MinCount: 10}
	}
	return DetectorSettings{}
}

// labelWords are header words of personal-record columns.
func labelWords() map[uint32][]string {
	return map[uint32][]string{
		labName:    {"氏名", "名前", "フリガナ", "ふりがな", "カナ", "name", "氏　名"},
		labAddress: {"住所", "所在地", "address"},
		labPhone:   {"電話", "tel", "携帯", "phone", "連絡先"},
		labBirth:   {"生年月日", "誕生日", "birth"},
		labPostal:  {"〒", "郵便番号"},
	}
}

// kwInfo is what one keyword means.
type kwInfo struct {
	text  string
	runes int
	pos   uint32 // detectors it is a positive keyword of
	neg   uint32 // detectors it is a negative keyword of
	label uint32
}

// acMatcher is an Aho-Corasick automaton over bytes, ASCII case folded, so
// that every keyword of every detector is found in one pass.
type acMatcher struct {
	cls    [256]uint8
	nc     int
	delta  []uint16
	out    [][]uint16
	kw     []kwInfo
	maxLen int
	// first3 has a bit for (a hash of) the first three bytes of each
	// keyword, both cases: from the root state, the scan skips positions
	// where no keyword can start.
	first3 [1 << 16 / 64]uint64
	first1 [256]bool // first bytes of keywords shorter than three bytes
	start  [256]bool // first bytes of all keywords, both cases
}

func lowerASCII(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 32
	}
	return b
}

// tri hashes three bytes to 16 bits.
func tri(b0, b1, b2 byte) uint32 {
	return (uint32(b0)<<16 | uint32(b1)<<8 | uint32(b2)) * 2654435761 >> 16
}

func upperASCII(b byte) byte {
	if b >= 'a' && b <= 'z' {
		return b - 32
	}
	return b
}

func buildAC(kws []kwInfo) *acMatcher {
	m := &acMatcher{kw: kws}
	// byte classes: each byte used in a keyword gets its own class.
	used := [256]bool{}
	for _, k := range kws {
		for i := 0; i < len(k.text); i++ {
			used[lowerASCII(k.text[i])] = true
		}
		if len(k.text) > m.maxLen {
			m.maxLen = len(k.text)
		}
	}
	for _, k := range kws {
		t := k.text
		m.start[t[0]] = true
		m.start[upperASCII(t[0])] = true
		if len(t) < 3 {
			m.first1[t[0]] = true
			m.first1[upperASCII(t[0])] = true
			continue
		}
		for _, b0 := range []byte{t[0], upperASCII(t[0])} {
			for _, b1 := range []byte{t[1], upperASCII(t[1])} {
				for _, b2 := range []byte{t[2], upperASCII(t[2])} {
					x := tri(b0, b1, b2)
					m.first3[x>>6] |= 1 << (x & 63)
				}
			}
		}
	}
	m.nc = 1
	for b := 0; b < 256; b++ {
		if used[b] {
			m.cls[b] = uint8(m.nc)
			m.nc++
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		m.cls[b] = m.cls[b+32]
	}
	// trie
	type node struct {
		next map[uint8]int
		fail int
		out  []uint16
	}
	nodes := []node{{next: map[uint8]int{}}}
	for id, k := range kws {
		s := 0
		for i := 0; i < len(k.text); i++ {
			c := m.cls[lowerASCII(k.text[i])]
			n, ok := nodes[s].next[c]
			if !ok {
				nodes = append(nodes, node{next: map[uint8]int{}})
				n = len(nodes) - 1
				nodes[s].next[c] = n
			}
			s = n
		}
		nodes[s].out = append(nodes[s].out, uint16(id))
	}
	m.delta = make([]uint16, len(nodes)*m.nc)
	m.out = make([][]uint16, len(nodes))
	queue := []int{}
	for c := 1; c < m.nc; c++ {
		if n, ok := nodes[0].next[uint8(c)]; ok {
			m.delta[c] = uint16(n)
			nodes[n].fail = 0
			queue = append(queue, n)
		}
	}
	m.out[0] = nodes[0].out
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.out[s] = append(append([]uint16(nil), nodes[s].out...), m.out[nodes[s].fail]...)
		for c := 0; c < m.nc; c++ {
			if n, ok := nodes[s].next[uint8(c)]; ok && c != 0 {
				nodes[n].fail = int(m.delta[nodes[s].fail*m.nc+c])
				m.delta[s*m.nc+c] = uint16(n)
				queue = append(queue, n)
			} else {
				m.delta[s*m.nc+c] = m.delta[nodes[s].fail*m.nc+c]
			}
		}
	}
	// the high bit of a transition marks a state with output, so that the
	// scan loop touches out only on a match.
	for i, st := range m.delta {
		if len(m.out[st]) > 0 {
			m.delta[i] = st | outBit
		}
	}
	return m
}

const outBit = 1 << 15
