<?php
/**
 * The API client over a recording transport: requests, the key, answers and failures.
 *
 * @package RelatedHeadlines
 */

use RelatedHeadlines\Block_Renderer;
use RelatedHeadlines\Service_Client;

const CLIENT_KEY = 'k3y-0f-the-service-1234567890';

/**
 * A transport that records each request and answers the next canned answer.
 */
final class Recording_Transport {

	/**
	 * Requests sent: method, url, headers, body, timeout.
	 *
	 * @var array
	 */
	public $requests = array();

	/**
	 * Answers to give, in order (a Throwable is thrown).
	 *
	 * @var array
	 */
	private $answers;

	/**
	 * A transport.
	 *
	 * @param array $answers The answers.
	 */
	public function __construct( array $answers ) {
		$this->answers = $answers;
	}

	/**
	 * Records and answers.
	 *
	 * @param string      $method  Method.
	 * @param string      $url     URL.
	 * @param array       $headers Headers.
	 * @param string|null $body    Body.
	 * @param float       $timeout Timeout.
	 */
	public function __invoke( $method, $url, array $headers, $body, $timeout ) {
		$this->requests[] = compact( 'method', 'url', 'headers', 'body', 'timeout' );
		$answer           = array_shift( $this->answers );
		if ( $answer instanceof Throwable ) {
			throw $answer;
		}
		return $answer;
	}
}

/**
 * A transport answer.
 *
 * @param int   $status HTTP status (0: none).
 * @param mixed $body   A document to encode, or a string.
 */
function client_answer( $status, $body = '' ) {
	return array(
		'status' => $status,
		'body'   => is_string( $body ) ? $body : json_encode( $body ),
		'error'  => 0 === $status ? 'cURL error 28: Operation timed out after 2001 milliseconds' : '',
	);
}

function test_push_posts_the_article_with_the_key() {
	$transport = new Recording_Transport( array( client_answer( 200, array( 'upserted' => 1, 'ids' => array( 'wp-a-1' ) ) ) ) );
	$client    = new Service_Client( 'https://related.example.com/', CLIENT_KEY, $transport );
	$article   = array(
		'id'       => 'wp-a-1',
		'headline' => 'عنوان / headline',
	);
	check_same(
		array(
			'ok'     => true,
			'status' => 200,
			'retry'  => false,
			'error'  => '',
		),
		$client->push( $article )
	);
	$request = $transport->requests[0];
	check_same( 'POST', $request['method'] );
	check_same( 'https://related.example.com/v1/articles', $request['url'] );
	check_same( 'Bearer ' . CLIENT_KEY, $request['headers']['Authorization'] );
	check_same( 'application/json', $request['headers']['Content-Type'] );
	check_same( '{"id":"wp-a-1","headline":"عنوان / headline"}', $request['body'] );
	check( $request['timeout'] <= 3.0, 'a short timeout' );
}

function test_push_many_sends_one_bulk_request() {
	$transport = new Recording_Transport( array( client_answer( 200, array( 'upserted' => 2 ) ) ) );
	$client    = new Service_Client( 'http://127.0.0.1:8080', '', $transport );
	check( $client->push_many( array( array( 'id' => 'a', 'headline' => 'A' ), array( 'id' => 'b', 'headline' => 'B' ) ) )['ok'] );
	check_same( '{"articles":[{"id":"a","headline":"A"},{"id":"b","headline":"B"}]}', $transport->requests[0]['body'] );
	check( ! isset( $transport->requests[0]['headers']['Authorization'] ), 'no key, no header' );
}

function test_delete_encodes_the_id_and_a_404_counts_as_done() {
	$transport = new Recording_Transport( array( client_answer( 404, array( 'error' => array( 'code' => 'not_found' ) ) ), client_answer( 200, array( 'deleted' => 'x' ) ) ) );
	$client    = new Service_Client( 'https://related.example.com/api', CLIENT_KEY, $transport );
	check( $client->delete( 'wp-example.com:8080~news-7' )['ok'], '404: nothing to delete' );
	check_same( 'DELETE', $transport->requests[0]['method'] );
	check_same( 'https://related.example.com/api/v1/articles/wp-example.com%3A8080~news-7', $transport->requests[0]['url'] );
	check_same( null, $transport->requests[0]['body'] );
	check( $client->delete( 'world/2024/كرملين 1' )['ok'] );
	check_same( 'https://related.example.com/api/v1/articles/world/2024/%D9%83%D8%B1%D9%85%D9%84%D9%8A%D9%86%201', $transport->requests[1]['url'] );
}

function test_failed_writes_say_why_and_whether_to_retry() {
	$cases = array(
		array( client_answer( 0 ), true, 'no answer: cURL error 28' ),
		array( client_answer( 503, array( 'error' => array( 'code' => 'model_mismatch', 'message' => 'index built with another model' ) ) ), true, 'HTTP 503 model_mismatch index built with another model' ),
		array( client_answer( 507, array( 'error' => array( 'code' => 'disk_full', 'message' => 'no room' ) ) ), true, 'HTTP 507 disk_full' ),
		array( client_answer( 429 ), true, 'HTTP 429' ),
		array( client_answer( 400, array( 'error' => array( 'code' => 'invalid', 'message' => "'headline' must hold visible text", 'field' => 'headline' ) ) ), false, "HTTP 400 invalid 'headline' must hold visible text" ),
		array( client_answer( 401, array( 'error' => array( 'code' => 'unauthorized', 'message' => 'a valid API key is required' ) ) ), false, 'check the API key' ),
		array( client_answer( 502, '<html>Bad Gateway</html>' ), true, 'HTTP 502' ),
	);
	foreach ( $cases as $case ) {
		$client = new Service_Client( 'https://related.example.com', CLIENT_KEY, new Recording_Transport( array( $case[0] ) ) );
		$result = $client->push( array( 'id' => 'a', 'headline' => 'A' ) );
		check_same( false, $result['ok'] );
		check_same( $case[1], $result['retry'], $result['error'] );
		check_contains( $case[2], $result['error'] );
	}
}

function test_errors_never_carry_the_key() {
	$echo   = client_answer( 401, array( 'error' => array( 'code' => 'unauthorized', 'message' => "key Bearer " . CLIENT_KEY . " refused\nsecond line" ) ) );
	$client = new Service_Client( 'https://related.example.com', CLIENT_KEY, new Recording_Transport( array( $echo, new RuntimeException( 'boom with ' . CLIENT_KEY ) ) ) );
	$first  = $client->push( array( 'id' => 'a', 'headline' => 'A' ) );
	check_lacks( CLIENT_KEY, $first['error'] );
	check_lacks( "\n", $first['error'] );
	$second = $client->delete( 'a' );
	check_same( 0, $second['status'] );
	check_lacks( CLIENT_KEY, $second['error'] );
}

function test_similar_is_a_read_without_the_key() {
	$answer    = array(
		'article' => array( 'id' => 'wp-a-1', 'language' => 'en' ),
		'items'   => array( array( 'id' => 'wp-a-2', 'headline' => 'Two' ) ),
	);
	$transport = new Recording_Transport( array( client_answer( 200, $answer ) ) );
	$client    = new Service_Client( 'https://related.example.com', CLIENT_KEY, $transport );
	check_same( $answer, $client->similar( 'wp-a-1', array( 'k' => 5, 'fill' => 'section', 'unknown' => 'x', 'profile' => '' ) ) );
	$request = $transport->requests[0];
	check_same( 'GET', $request['method'] );
	check_same( 'https://related.example.com/v1/articles/wp-a-1/similar?k=5&fill=section', $request['url'] );
	check( ! isset( $request['headers']['Authorization'] ), 'reads send no key' );
	check( $request['timeout'] <= 2.0, 'a page waits at most 2 s' );
	check_same( 200, $client->last_status() );
}

function test_similar_fails_to_null_and_the_block_to_nothing() {
	$failures = array(
		client_answer( 0 ),
		client_answer( 500, array( 'error' => array( 'code' => 'internal' ) ) ),
		client_answer( 503, '<html>down</html>' ),
		client_answer( 200, 'not json' ),
		client_answer( 200, array( 'error' => array( 'code' => 'x' ) ) ),
		client_answer( 200, array( 'items' => 'x' ) ),
		client_answer( 400, array( 'error' => array( 'code' => 'invalid', 'field' => 'k' ) ) ),
		array( 'nonsense' => true ),
		null,
		new RuntimeException( 'transport exploded' ),
	);
	foreach ( $failures as $failure ) {
		$client = new Service_Client( 'https://related.example.com', CLIENT_KEY, new Recording_Transport( array( $failure ) ) );
		$answer = $client->similar( 'wp-a-1', array( 'k' => 5 ) );
		check_same( null, $answer, var_export( $failure, true ) );
		check_same( '', Block_Renderer::render( $answer ) );
	}
	$client = new Service_Client( 'https://related.example.com', '', new Recording_Transport( array( client_answer( 0 ) ) ) );
	$client->similar( 'x' );
	check_same( 0, $client->last_status(), 'no answer: status 0' );
}

function test_similar_of_an_unknown_article_is_empty() {
	$client = new Service_Client( 'https://related.example.com', '', new Recording_Transport( array( client_answer( 404, array( 'error' => array( 'code' => 'not_found' ) ) ) ) ) );
	check_same( array( 'items' => array() ), $client->similar( 'wp-a-99' ) );
}

function test_base_url_must_be_http() {
	$cases = array(
		'https://related.example.com/'       => 'https://related.example.com',
		' HTTP://127.0.0.1:8080/related// '  => 'http://127.0.0.1:8080/related',
		'https://related.example.com/?x=1#y' => 'https://related.example.com',
		'javascript:alert(1)'                => '',
		'ftp://related.example.com'          => '',
		'https://user:pass@related.example'  => '',
		'related.example.com'                => '',
		'https://related example.com'        => '',
		''                                   => '',
	);
	foreach ( $cases as $typed => $expected ) {
		check_same( $expected, Service_Client::normalize_base_url( $typed ), var_export( $typed, true ) );
	}
}

function test_nothing_is_sent_without_a_service_url() {
	$transport = new Recording_Transport( array() );
	$client    = new Service_Client( '', CLIENT_KEY, $transport );
	check_same( false, $client->configured() );
	check_same( false, $client->push( array( 'id' => 'a', 'headline' => 'A' ) )['ok'] );
	check_same( null, $client->similar( 'a' ) );
	check_same( null, $client->health() );
	check_same( array(), $transport->requests );
}
