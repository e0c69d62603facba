// Placeholder until its page is built (issue 13).
export default function MyBets() {
  return <p className="notice">MyBets is being built.</p>;
}
