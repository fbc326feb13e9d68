package expr

import (
	"math/big"
	"net/netip"
	"strings"
)

func init() {
	s, i := KString, KInt
	register(
		fn("parseCidr", 1, 1, kinds(s), func(c *Call, x []any) (any, error) {
			p, err := parsePrefix(x[0].(string))
			if err != nil {
				return nil, c.Fail("%v", err)
			}
			bitsLen := p.Addr().BitLen()
			network := p.Masked().Addr()
			last := lastAddr(p)
			o := NewObject()
			o.Set("network", network.String())
			o.Set("netmask", maskAddr(p.Bits(), bitsLen).String())
			first, lastUsable := network, last
			if bitsLen == 32 {
				o.Set("broadcast", last.String())
				// A /31 or /32 has no network or broadcast address to set aside.
				if p.Bits() < 31 {
					first, lastUsable = network.Next(), last.Prev()
				}
			}
			o.Set("firstUsable", first.String())
			o.Set("lastUsable", lastUsable.String())
			o.Set("cidr", int64(p.Bits()))
			return o, nil
		}),
		fn("cidrSubnet", 3, 3, kinds(s, i, i), func(c *Call, x []any) (any, error) {
			p, err := parsePrefix(x[0].(string))
			if err != nil {
				return nil, c.Fail("%v", err)
			}
			newBits, index := x[1].(int64), x[2].(int64)
			bitsLen := int64(p.Addr().BitLen())
			if newBits < int64(p.Bits()) || newBits > bitsLen {
				return nil, c.Fail("the new CIDR %d must be between %d and %d", newBits, p.Bits(), bitsLen)
			}
			count := new(big.Int).Lsh(big.NewInt(1), uint(newBits-int64(p.Bits())))
			if index < 0 || big.NewInt(index).Cmp(count) >= 0 {
				return nil, c.Fail("the subnet index %d is out of range for %d subnets", index, count)
			}
			off := new(big.Int).Lsh(big.NewInt(index), uint(bitsLen-newBits))
			a := addAddr(p.Masked().Addr(), off)
			return netip.PrefixFrom(a, int(newBits)).String(), nil
		}),
		fn("cidrHost", 2, 2, kinds(s, i), func(c *Call, x []any) (any, error) {
			p, err := parsePrefix(x[0].(string))
			if err != nil {
				return nil, c.Fail("%v", err)
			}
			index := x[1].(int64)
			bitsLen := p.Addr().BitLen()
			size := new(big.Int).Lsh(big.NewInt(1), uint(bitsLen-p.Bits()))
			// Usable hosts exclude the network address (and, for IPv4, the
			// broadcast address): index 0 is the network address + 1.
			usable := new(big.Int).Sub(size, big.NewInt(1))
			if bitsLen == 32 {
				usable.Sub(usable, big.NewInt(1))
			}
			if index < 0 || big.NewInt(index).Cmp(usable) >= 0 {
				return nil, c.Fail("the host index %d is out of range for the network %s", index, x[0])
			}
			return addAddr(p.Masked().Addr(), big.NewInt(index+1)).String(), nil
		}),
	)
}

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return p, errorf("the value '%s' is not a valid CIDR network", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

func maskAddr(ones, total int) netip.Addr {
	b := make([]byte, total/8)
	for k := 0; k < ones; k++ {
		b[k/8] |= 0x80 >> (k % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for k := p.Bits(); k < len(b)*8; k++ {
		b[k/8] |= 0x80 >> (k % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func addAddr(a netip.Addr, off *big.Int) netip.Addr {
	b := a.AsSlice()
	n := new(big.Int).SetBytes(b)
	n.Add(n, off)
	out := n.FillBytes(make([]byte, len(b)))
	r, _ := netip.AddrFromSlice(out)
	return r
}
