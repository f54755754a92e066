// The client address that login throttling counts under. One IPv6 host usually holds a whole
// /64, so counting exact IPv6 addresses would let it try 2^64 times as often as an IPv4 host.
import { isIPv4, isIPv6 } from 'node:net'

/** `a.b.c.d` for IPv4 (IPv4-mapped IPv6 included), the /64 prefix for IPv6, else the input. */
export function addressKey(ip: string | undefined): string {
  if (!ip) return 'unknown'
  const address = ip.replace(/%.*$/, '') // a zone index (fe80::1%eth0) names no other host
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!
  if (isIPv4(address)) return address
  if (!isIPv6(address)) return address.slice(0, 100)
  const groups = expandIPv6(address)
  return `${groups.slice(0, 4).join(':')}::/64`
}

/** The eight 16-bit groups of a valid IPv6 address, lower case without leading zeros. */
function expandIPv6(address: string): string[] {
  const toGroups = (part: string) => {
    if (part === '') return []
    const pieces = part.split(':')
    const last = pieces[pieces.length - 1]!
    if (!last.includes('.')) return pieces
    // An embedded IPv4 tail (64:ff9b::192.0.2.1) is two groups.
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number]
    return [...pieces.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)]
  }
  const [head, tail] = address.split('::') as [string, string | undefined]
  const front = toGroups(head)
  const back = tail === undefined ? [] : toGroups(tail)
  const zeros = Array.from({ length: 8 - front.length - back.length }, () => '0')
  return [...front, ...zeros, ...back].map((group) => Number.parseInt(group, 16).toString(16))
}
