// Placeholder until its page is built (issue 13).
export default function Account() {
  return <p className="notice">Account is being built.</p>;
}
