// Placeholder until its page is built (issue 13).
export  function EventPage() {
  return <p className="notice">EventPage is being built.</p>;
}
