/**
 * The path of a request's URL, without its query string: what Problem Details' `instance` names.
 * A query string may carry secrets (`?api_key=…`, a reset token) that have no place in a body.
 */
export function pathOf (url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}
