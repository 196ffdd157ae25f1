/** Replace the password of every URL-shaped credential in a text, so that no secret reaches a log or error. */
export function redactSecrets(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]*@/gi, '$1***@')
    .replace(/(password\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi, '$1***');
}

/** A connection URL as it may be shown: the password replaced. */
export function displayUrl(url: string): string {
  return redactSecrets(url);
}

/** For what leaves the process (API responses): no connection string at all, not even without its password. */
export function withoutConnectionStrings(text: string): string {
  return redactSecrets(text).replace(/\b(postgres(ql)?|kafka|https?):\/\/[^\s'"]+/gi, '<connection string>');
}
