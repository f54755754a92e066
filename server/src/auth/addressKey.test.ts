// Client addresses as login throttling counts them: IPv4 as is, IPv6 by its /64.
import { describe, expect, it } from 'vitest'
import { addressKey } from './addressKey.ts'

describe('addressKey', () => {
  it('keeps IPv4 addresses and unwraps IPv4-mapped IPv6 ones', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7')
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
    expect(addressKey('::FFFF:127.0.0.1')).toBe('127.0.0.1')
  })

  it('counts every address of one IPv6 /64 together, however it is written', () => {
    const key = addressKey('2001:db8:aa:bb::1')
    expect(key).toBe('2001:db8:aa:bb::/64')
    expect(addressKey('2001:0db8:00aa:00bb:ffff:1:2:3')).toBe(key)
    expect(addressKey('2001:DB8:AA:BB:0:0:0:9%eth0')).toBe(key)
    expect(addressKey('2001:db8:aa:bc::1')).not.toBe(key)
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64')
  })

  it('keeps anything else as it came, bounded', () => {
    expect(addressKey(undefined)).toBe('unknown')
    expect(addressKey('not-an-address')).toBe('not-an-address')
    expect(addressKey('x'.repeat(500))).toHaveLength(100)
  })
})
