import type { AnchorHTMLAttributes, MouseEvent } from 'react'
import { navigate } from './router.ts'

/** An anchor that navigates inside the app without a page load. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    props.onClick?.(event)
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey
    )
      return
    event.preventDefault()
    navigate(props.href)
  }
  return <a {...props} onClick={onClick} />
}
