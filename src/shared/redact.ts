const MASK = '***';

/** Characters that end a URL in running text (whitespace, quotes, angle brackets, backticks). */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`<>]+/gi;

/**
 * The same URL with the password of its user info masked. The user info ends at the LAST `@` of
 * the authority (a password may hold `@`: `postgres://app:p@ss@db`), and a password may even hold
 * `/`, `?` or `#` unencoded: an `@` after them still ends the user info unless what follows the
 * first `:` up to the `/` is a port (`http://host:8080/a@b` keeps its path).
 */
function redactUrl(url: string): string {
  const start = url.indexOf('://') + 3;
  const rest = url.slice(start);
  const at = rest.lastIndexOf('@');
  if (at < 0) return url;
  const authorityEnd = rest.search(/[/?#]/);
  let userInfoEnd = at;
  if (authorityEnd >= 0 && at > authorityEnd) {
    const colon = rest.indexOf(':');
    const afterColon = colon >= 0 && colon < authorityEnd ? rest.slice(colon + 1, authorityEnd) : null;
    const passwordWithSlash = afterColon !== null && !/^\d*$/.test(afterColon);
    if (!passwordWithSlash) {
      userInfoEnd = rest.lastIndexOf('@', authorityEnd);
      if (userInfoEnd < 0) return url;
    }
  }
  const userInfo = rest.slice(0, userInfoEnd);
  const colon = userInfo.indexOf(':');
  if (colon < 0) return url;
  return `${url.slice(0, start)}${userInfo.slice(0, colon + 1)}${MASK}${rest.slice(userInfoEnd)}`;
}

/** Replace the password of every URL-shaped credential in a text, so that no secret reaches a log or error. */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_IN_TEXT, redactUrl)
    .replace(/(\b\w*pass(?:word|wd)?["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&}]+)/gi, `$1${MASK}`);
}

/** A connection URL as it may be shown: the password replaced. */
export function displayUrl(url: string): string {
  return redactSecrets(url);
}

/** For what leaves the process (API responses): no connection string at all, not even without its password. */
export function withoutConnectionStrings(text: string): string {
  return redactSecrets(text).replace(/\b(postgres(ql)?|kafka|https?):\/\/[^\s'"]+/gi, '<connection string>');
}
